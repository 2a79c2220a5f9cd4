"""The app's HTML, as pure functions (no Gradio import), one file per tab: ``chat``,
``library``, ``for_you``, ``status``, ``digests``, and what they share in ``common``. Every
piece of text that came from a paper, the model or the user is escaped: abstracts, model
output and questions are untrusted data, never markup. Saved pages (Markdown, HTML, Atom)
are ``assistant/render/``'s.
"""

from assistant.ui.render.chat import (
    answer_html,
    checked_html,
    error_html,
    evidence_panel_html,
    legend_html,
    sources_panel_html,
    stopped_html,
    streaming_html,
    user_html,
    waiting_html,
    waiting_text,
)
from assistant.ui.render.common import (
    link_label,
)
from assistant.ui.render.digests import (
    digest_sources_html,
    digest_view_html,
)
from assistant.ui.render.for_you import ranking_html
from assistant.ui.render.library import (
    LIBRARY_COLUMNS,
    library_rows,
    matches_line,
    paper_html,
    source_labels,
)
from assistant.ui.render.status import (
    banner_html,
    speed_text,
    status_html,
    week_label,
)

__all__ = [
    "LIBRARY_COLUMNS",
    "answer_html",
    "banner_html",
    "checked_html",
    "digest_sources_html",
    "digest_view_html",
    "error_html",
    "evidence_panel_html",
    "legend_html",
    "library_rows",
    "link_label",
    "matches_line",
    "paper_html",
    "ranking_html",
    "source_labels",
    "sources_panel_html",
    "speed_text",
    "status_html",
    "stopped_html",
    "streaming_html",
    "user_html",
    "waiting_html",
    "waiting_text",
    "week_label",
]
