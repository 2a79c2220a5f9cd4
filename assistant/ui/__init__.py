"""The Gradio app (``assistant ui``): a thin layer over the answer, retrieval and store stages.

``build_app(settings)`` returns the ``gr.Blocks``; ``launch(settings)`` serves it as
``settings.ui`` says (host, port, auth, share). Importing this package imports Gradio, so the
CLI imports it only inside the ``ui`` command.
"""

from assistant.ui.app import build_app, launch

__all__ = ["build_app", "launch"]
