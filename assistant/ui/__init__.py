"""The Gradio app (``assistant ui``): a thin layer over the answer, retrieval and store stages.

``app.build_app(settings)`` returns the ``gr.Blocks``; ``app.launch(settings)`` serves it as
``settings.ui`` says (host, port, auth, share). One module per tab (chat, library, digests,
status) and their HTML in ``render/``. The modules import Gradio, so the CLI imports them only
inside the ``ui`` command.
"""
