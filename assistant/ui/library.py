"""The Library tab: search or browse the papers page by page (``library.library_page``),
read one, ask the chat about it (answered from it and its nearest neighbours), save it
(``interests.save_papers``) or list the papers like it (``recommend.similar``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from html import escape
from typing import Any

import gradio as gr

from assistant.library import ORDERS, LibraryPage, about_question, library_page
from assistant.recommend import similar
from assistant.settings import MODES, Settings
from assistant.store import open_store
from assistant.ui import render
from assistant.ui.chat import ChatTab
from assistant.ui.common import (
    ALL_SOURCES,
    Listings,
    failure,
    filters_of,
    session_of,
    source_choices,
    source_labels,
    star_paper,
)


@dataclass
class LibraryTab:
    """The Library's listing, which the app fills when the tab opens, and its source filter."""

    opening: Callable[..., tuple[Any, ...]]  # the listing made when the tab opens
    inputs: list[Any]
    outputs: list[Any]
    source: gr.Dropdown


def library_tab(settings: Settings, tabs: gr.Tabs, chat: ChatTab) -> LibraryTab:
    """Search or browse the papers page by page, read one, and ask the chat about it."""
    listings = Listings()
    with gr.Row(elem_id="library-search", equal_height=True):
        query = gr.Textbox(
            show_label=False,
            placeholder="Search titles and abstracts",
            scale=6,
            min_width=200,
            elem_id="library-query",
        )
        go = gr.Button("Search", variant="primary", scale=1, min_width=90, elem_id="library-go")
    with gr.Row(elem_id="library-filters"):
        since = gr.Textbox(label="From", placeholder="YYYY-MM-DD", min_width=120, scale=1)
        until = gr.Textbox(label="Until", placeholder="YYYY-MM-DD", min_width=120, scale=1)
        source = gr.Dropdown(
            source_choices(settings),
            value=ALL_SOURCES,
            label="Source",
            min_width=180,
            scale=2,
            allow_custom_value=True,  # a source ingested after the page loaded
        )
        order = gr.Dropdown(
            ORDERS, value=ORDERS[0], label="Order", min_width=120, scale=1, elem_id="library-order"
        )
        lib_mode = gr.Dropdown(
            list(MODES), value=settings.retrieval.mode, label="Retrieval", min_width=110, scale=1
        )
        weaker = gr.Checkbox(
            False, label="Weaker matches too", min_width=120, scale=1, elem_id="library-weaker"
        )
    with gr.Row(elem_id="library-pager", equal_height=True):
        count = gr.Markdown("", elem_id="library-count")
        prev_page = gr.Button("← Previous", size="sm", scale=0, min_width=100, elem_id="prev-page")
        next_page = gr.Button("Next →", size="sm", scale=0, min_width=90, elem_id="next-page")
    page = gr.Number(1, visible=False, precision=0)
    api_search = gr.Button(visible=False)  # the API's /search: any page, no reset to page 1
    with gr.Row(equal_height=False, elem_id="library-row"):
        with gr.Column(scale=7, min_width=300):
            table = gr.Dataframe(
                headers=render.LIBRARY_COLUMNS,
                datatype=["number", "number", "str", "str", "str", "str"],
                interactive=False,
                wrap=True,
                max_height=640,
                column_widths=["6%", "9%", "16%", "49%", "20%", "0%"],
                show_label=False,
                elem_id="library-table",
            )
        with gr.Column(scale=5, min_width=300, elem_id="paper-col"):
            with gr.Row(elem_id="paper-actions"):
                ask = gr.Button(
                    "Ask about this paper",
                    visible=False,
                    size="sm",
                    variant="primary",
                    elem_id="ask-paper",
                )
                star = gr.Button("☆ Save", visible=False, size="sm", elem_id="save-paper")
                like = gr.Button("Papers like this", visible=False, size="sm", elem_id="like-paper")
            paper = gr.HTML(render.paper_html(None), elem_id="paper")
            similar_papers = gr.HTML("", elem_id="like-papers")
            selected = gr.State("")

    def shown(found: LibraryPage, weaker_: bool) -> tuple[Any, ...]:
        """The table rows, the count line and the page number of a library page."""
        labels = source_labels(settings)
        order_ = found.order
        if found.query is not None:
            what = render.matches_line(found.good, found.weaker, found.query, weaker_)
            how = "rank 1 = highest fused score" if order_ == ORDERS[0] else f"by {order_}"
            rows = render.library_rows(hits=found.hits, labels=labels)
        else:
            what = f"{found.total:,} papers"
            how = "newest first" if order_ in ORDERS[:2] else f"by {order_}"
            rows = render.library_rows(papers=found.papers, labels=labels, start=found.start + 1)
        if found.undated:
            what += f" · {found.undated:,} undated papers left out by the date filter"
        return rows, f"{what} · {how} · page {found.number} of {found.pages}", found.number

    def pager(
        page_of: Callable[[Any], int], *, opening: bool = False
    ) -> Callable[..., tuple[Any, ...]]:
        """A handler listing the page ``page_of`` picks from the page shown: one page of
        papers, a search's good matches by rank (or as ordered; the weaker ones after them
        when asked for), or every paper. Skipped when ``Listings`` says the page has moved on
        (``opening``: the listing made when the tab opens)."""

        def handler(
            text: str,
            mode_: str,
            since_: str,
            until_: str,
            source_: str,
            order_: str,
            page_: Any,
            weaker_: bool,
            request: gr.Request,
        ) -> tuple[Any, ...]:
            session = session_of(request)
            inputs = (text, mode_, since_, until_, source_, order_, weaker_)  # the page aside
            number = listings.start(session, inputs, opening=opening)
            try:
                found = library_page(
                    settings,
                    text,
                    mode=mode_,
                    filters=filters_of(since_, until_, source_),
                    order=order_,
                    page=page_of(page_),
                    weaker=weaker_,
                )
                for notice in found.notices:
                    gr.Warning(notice)
                result = shown(found, weaker_)
            except Exception as exc:
                message = failure(exc)
                gr.Warning(message)
                result = (gr.skip(), f"⚠ {escape(message)}", gr.skip())
            if listings.shown(session, number, inputs, opening=opening):
                return result
            return tuple(gr.skip() for _ in result)

        return handler

    find = pager(lambda shown: int(shown or 1))
    opening = pager(lambda shown: int(shown or 1), opening=True)
    first_page = pager(lambda _shown: 1)

    def turn_page(step: int) -> Callable[..., tuple[Any, ...]]:
        return pager(lambda shown: int(shown or 1) + step)

    def open_paper(evt: gr.SelectData) -> tuple[Any, ...]:
        """Show the abstract of the clicked row (its id is in the row, whatever the order)."""
        row = evt.row_value or []
        paper_id = str(row[-1]) if row else ""
        try:
            found = open_store(settings).get(paper_id) if paper_id else None
            labels = source_labels(settings) if found else {}
        except Exception as exc:
            gr.Warning(failure(exc))
            found, labels = None, {}
        shown = render.paper_html(found, labels)
        button = gr.Button(visible=bool(found))
        return shown, paper_id if found else "", button, button, button, ""

    def papers_like(paper_id: str) -> str:
        """The papers nearest the open one, each with how close."""
        try:
            return render.ranking_html(similar(settings, [paper_id], k=8))
        except Exception as exc:
            return f'<div class="notice error">⚠ {escape(failure(exc))}</div>'

    def ask_about(paper_id: str, messages: list[dict[str, Any]], request: gr.Request) -> tuple:
        """Switch to the chat and send a question about this paper (answered from it and its
        nearest neighbours only)."""
        found = open_store(settings).get(paper_id) if paper_id else None
        if found is None:
            return (gr.skip(),) * 7
        if chat.busy(request):
            gr.Info("An answer is being written: wait for it, or press Stop.")
            return (gr.Tabs(selected="chat"), gr.skip(), gr.skip(), "", "", gr.skip(), gr.skip())
        text = about_question(found.title)
        staged = [
            *messages,
            {"role": "user", "content": render.user_html(text)},
            {"role": "assistant", "content": render.streaming_html("")},
        ]
        return (
            gr.Tabs(selected="chat"),
            "",
            staged,
            text,
            found.id,
            gr.Button(interactive=False),
            gr.Button(visible=True),
        )

    inputs = [query, lib_mode, since, until, source, order, page, weaker]
    outputs = [table, count, page]
    for trigger in (query.submit, go.click, order.change, source.change, weaker.change):
        trigger(
            first_page,
            inputs,
            outputs,
            api_visibility="private",
            concurrency_limit=None,
            concurrency_id="library",
            show_progress="minimal",
        )
    api_search.click(
        find, inputs, outputs, api_name="search", concurrency_limit=None, concurrency_id="library"
    )
    for button, step in ((prev_page, -1), (next_page, 1)):
        button.click(
            turn_page(step),
            inputs,
            outputs,
            concurrency_limit=None,
            concurrency_id="library",
            api_visibility="private",
        )
    table.select(
        open_paper,
        None,
        [paper, selected, ask, star, like, similar_papers],
        concurrency_limit=None,
        api_visibility="private",
    )
    star.click(
        lambda paper_id: star_paper(settings, paper_id),
        [selected],
        None,
        concurrency_limit=None,
        api_visibility="private",
    )
    like.click(
        papers_like, [selected], [similar_papers], concurrency_limit=None, api_name="similar"
    )
    chat.answer_after(
        ask.click(
            ask_about,
            [selected, chat.chatbot],
            [tabs, chat.question, chat.chatbot, chat.pending, chat.about, chat.send, chat.stop],
            queue=False,
            api_visibility="private",
        )
    )
    return LibraryTab(opening=opening, inputs=inputs, outputs=outputs, source=source)
