"""Helpers that judge, shared by checks: they take a check's context and give verdicts or what to judge.

Layers point one way: checks -> judge -> evidence (body readers) and facts (what is read); no check imports another
check, and nothing here reads Azure or DNS itself.
"""
