"""The eval harness: question suites with gold papers (``suite``), scored by the runner.

Suites are JSONL files under ``eval/suites/``; ``eval/README.md`` describes the format.
"""
