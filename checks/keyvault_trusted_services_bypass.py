"""keyvault.trusted-services-bypass: a Key Vault firewall must let trusted Azure services through."""

from moediag.check import Doc, Example, check
from moediag.evidence import az_group_and_name, dig, require_props, same_text
from moediag.shell import command

DOC = Doc(
    what=(
        "The workspace Key Vault's `properties.networkAcls.bypass` is `AzureServices`. A vault without "
        "`networkAcls` has no firewall and passes; so does a firewall whose default action is `Allow`."
    ),
    why=(
        "Azure Machine Learning reads the workspace's secrets from its Key Vault as a trusted Microsoft "
        "service. When the vault's firewall denies by default and does not let trusted services bypass it, "
        "deployments fail while pulling credentials, before the container starts."
    ),
    fix="Allow trusted Microsoft services through the vault firewall: `az keyvault update -n KV -g RG --bypass AzureServices`.",
    links=("https://learn.microsoft.com/azure/key-vault/general/overview-vnet-service-endpoints#trusted-services",),
    examples=(Example({"id": "/subscriptions/.../vaults/kv-ws-prod",
                       "properties": {"networkAcls": {"bypass": "None", "defaultAction": "Deny"}}},
                      "fail: Key Vault kv-ws-prod denies by default and does not let trusted Azure services through "
                      "(bypass is 'None')"),),
)


@check(id="keyvault.trusted-services-bypass", title="Key Vault lets trusted Azure services through its firewall",
       severity="high", scope="workspace", facts=("workspace", "keyvault"), doc=DOC,
       explained_by=(), hops=("deployment:key-vault",), fix_risk="safe")
def evaluate(ctx):
    vault = ctx.fact("keyvault")
    vault_id = vault.get("id") if isinstance(vault, dict) else None
    acls = require_props(vault, "Key Vault").get("networkAcls")
    expected = "bypass AzureServices (or no firewall)"
    if not acls:
        yield ctx.passed(vault_id, "the Key Vault has no firewall (no networkAcls)", expected=expected, observed=None)
        return
    bypass, default = dig(acls, "bypass"), dig(acls, "defaultAction")
    observed = {"bypass": bypass, "defaultAction": default}
    if same_text(bypass, "AzureServices"):
        yield ctx.passed(vault_id, "the Key Vault firewall lets trusted Azure services through", expected=expected, observed=observed)
    elif same_text(default, "Allow"):
        yield ctx.passed(vault_id, "the Key Vault firewall allows all networks by default, so no bypass is needed",
                         expected=expected, observed=observed)
    else:
        group, name = az_group_and_name(vault_id)
        yield ctx.failed(vault_id, f"Key Vault {name} denies by default and does not let trusted Azure services through "
                                   f"(bypass is {bypass!r})",
                         expected=expected, observed=observed,
                         fix=("Let trusted Microsoft services bypass the vault firewall",
                              [command("az keyvault update -n {name} -g {group} --bypass AzureServices",
                                       name=name, group=group)]))
