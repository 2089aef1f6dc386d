"""Fetch the official SARIF 2.1.0 JSON Schema (2.1.0-rtm.5) the tests validate moediag's SARIF against.

The schema is not committed: it ships inside the npm package `@microsoft/jest-sarif@1.0.0-beta.0`
(`package/lib/schemas/sarif-2.1.0-rtm.5.json`). This downloads that tarball from the npm registry, checks its
SHA-256 before reading anything from it, and writes the schema to `.cache/sarif-schema-2.1.0.json` (git-ignored).
`.ci/run` calls it after installing; tests never touch the network. Standard library only.

    python scripts/fetch_sarif_schema.py            # fetch (nothing to do when the cache is already right)
    python scripts/fetch_sarif_schema.py --from FILE.tgz   # the same tarball, already downloaded
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import sys
import tarfile
import urllib.request
from pathlib import Path

URL = "https://registry.npmjs.org/@microsoft/jest-sarif/-/jest-sarif-1.0.0-beta.0.tgz"
SHA256 = "748e2c3d1a842e7bb258416685c7ea3a0da40005b72267b2052c2856d48ad102"
MEMBER = "package/lib/schemas/sarif-2.1.0-rtm.5.json"
ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".cache" / "sarif-schema-2.1.0.json"
MAX_BYTES = 20 * 1024 * 1024


def schema_from(tarball: bytes) -> bytes:
    """The schema file out of the verified tarball; a wrong digest or a missing member is an error."""
    digest = hashlib.sha256(tarball).hexdigest()
    if digest != SHA256:
        raise SystemExit(f"fetch_sarif_schema: the tarball's sha256 is {digest}, expected {SHA256}: not used")
    with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as archive:
        try:
            member = archive.getmember(MEMBER)
        except KeyError:
            raise SystemExit(f"fetch_sarif_schema: {MEMBER} is not in the tarball") from None
        handle = archive.extractfile(member)
        if handle is None:
            raise SystemExit(f"fetch_sarif_schema: {MEMBER} is not a regular file")
        data = handle.read()
    schema = json.loads(data)
    if schema.get("properties", {}).get("version", {}).get("enum") != ["2.1.0"]:
        raise SystemExit("fetch_sarif_schema: the file is not the SARIF 2.1.0 schema")
    return data


def download() -> bytes:
    with urllib.request.urlopen(URL, timeout=60) as response:  # noqa: S310 - a fixed https URL
        data = response.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise SystemExit("fetch_sarif_schema: the tarball is larger than expected: not used")
    return data


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--from", dest="local", metavar="FILE.tgz", help="use this tarball instead of downloading")
    parser.add_argument("--out", default=str(CACHE), help=f"where to write the schema (default: {CACHE})")
    args = parser.parse_args(argv)
    out = Path(args.out)
    data = schema_from(Path(args.local).read_bytes() if args.local else download())
    if out.is_file() and out.read_bytes() == data:
        print(f"fetch_sarif_schema: {out} is up to date")
        return 0
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    tmp.write_bytes(data)
    tmp.replace(out)
    print(f"fetch_sarif_schema: wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
