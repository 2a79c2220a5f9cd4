"""papers-assistant: ask cited questions across a pile of ML paper abstracts.

Pipeline modules, in order: ingest -> store -> retrieve -> answer (-> digest).
"""

__version__ = "0.1.0"
