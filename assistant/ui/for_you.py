"""The For you tab: keep interests (phrases, "not" phrases, seed papers), rank a week, the
papers between two dates or the whole store for one (``recommend.for_you``), each paper with
why, and ask the chat about those papers. Interests live in the file the CLI uses
(``interests.py``)."""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from typing import Any

import gradio as gr

from assistant.interests import add_interest, get_interest, load_profile, remove_interest
from assistant.recommend import for_you
from assistant.settings import Settings
from assistant.ui import render
from assistant.ui.chat import ChatTab
from assistant.ui.common import failure, filters_of, scope_choices, scope_value


@dataclass
class ForYouTab:
    """What the app refreshes when the tab opens: the interests' names."""

    interest: gr.Dropdown
    names: Any


def _lines(text: str | None) -> list[str]:
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


def interest_names(settings: Settings) -> list[str]:
    """The saved interests' names ([] when the file cannot be read: the tab says why)."""
    try:
        return [i.name for i in load_profile(settings).interests]
    except Exception as exc:
        gr.Warning(failure(exc))
        return []


def for_you_tab(settings: Settings, tabs: gr.Tabs, chat: ChatTab) -> ForYouTab:
    """Interests, their rankings with why, and "ask these papers"."""
    names = interest_names(settings)
    with gr.Row(elem_id="fy-row", equal_height=True):
        interest = gr.Dropdown(
            names,
            value=names[0] if names else None,
            label="Interest",
            scale=3,
            min_width=180,
            elem_id="fy-interest",
        )
        week = gr.Textbox(
            label="Week",
            placeholder="e.g. 2026-W49 · blank: every paper",
            scale=2,
            min_width=150,
            elem_id="fy-week",
        )
        since = gr.Textbox(
            label="From", placeholder="YYYY-MM-DD", scale=1, min_width=120, elem_id="fy-since"
        )
        until = gr.Textbox(
            label="Until", placeholder="YYYY-MM-DD", scale=1, min_width=120, elem_id="fy-until"
        )
        k = gr.Slider(5, 50, value=10, step=5, label="Papers", scale=2, min_width=150)
        go = gr.Button("Rank", variant="primary", scale=1, min_width=80, elem_id="fy-go")
    with gr.Accordion("New or changed interest", open=not names, elem_id="fy-edit"):
        with gr.Row():
            name = gr.Textbox(label="Name", placeholder="e.g. kv-cache", elem_id="fy-name")
            phrases = gr.Textbox(
                label="Phrases you want (one a line)", lines=3, elem_id="fy-phrases"
            )
            negatives = gr.Textbox(label="Not (one a line)", lines=3, elem_id="fy-not")
            seeds = gr.Textbox(
                label="Seed papers (ids, one a line: “copy id” in the Library)",
                lines=3,
                elem_id="fy-seeds",
            )
        with gr.Row():
            save = gr.Button("Save interest", variant="primary", size="sm", elem_id="fy-save")
            remove = gr.Button("Remove the picked interest", variant="stop", size="sm")
    ranking = gr.HTML(render.ranking_html(None), elem_id="fy-ranking")
    ask = gr.Button("Ask these papers in the chat", visible=False, size="sm", elem_id="fy-ask")

    def rank(
        interest_: str | None, week_: str, since_: str, until_: str, k_: float
    ) -> tuple[Any, Any]:
        try:
            if not interest_:
                return render.ranking_html(None, "Save an interest first."), gr.skip()
            dates = filters_of(since_, until_, None)  # a bad date names its field
            result = for_you(
                settings,
                interest_,
                k=round(float(k_)),
                week=week_.strip() or None,
                since=dates.since,
                until=dates.until,
            )
            return render.ranking_html(result), gr.Button(visible=bool(result.papers))
        except Exception as exc:
            message = failure(exc)
            gr.Warning(message)
            return f'<div class="notice error">⚠ {escape(message)}</div>', gr.skip()

    def fill(interest_: str | None) -> tuple[str, str, str, str]:
        """The picked interest in the edit fields, to change it."""
        try:
            found = get_interest(settings, interest_) if interest_ else None
        except Exception:
            found = None
        if found is None:
            return "", "", "", ""
        return (
            found.name,
            "\n".join(found.phrases),
            "\n".join(found.negatives),
            "\n".join(s.id for s in found.seeds),
        )

    def save_interest(
        name_: str,
        phrases_: str,
        not_: str,
        seeds_: str,
        week_: str,
        since_: str,
        until_: str,
        k_: float,
    ) -> tuple[Any, ...]:
        try:
            saved = add_interest(
                settings,
                name_,
                phrases=_lines(phrases_),
                negatives=_lines(not_),
                seeds=_lines(seeds_),
                replace=True,
            )
        except Exception as exc:
            gr.Warning(failure(exc))
            return gr.skip(), gr.skip(), gr.skip()
        shown, button = rank(saved.name, week_, since_, until_, k_)
        return gr.Dropdown(choices=interest_names(settings), value=saved.name), shown, button

    def remove_picked(interest_: str | None) -> tuple[Any, ...]:
        try:
            if interest_:
                remove_interest(settings, interest_)
        except Exception as exc:
            gr.Warning(failure(exc))
        left = interest_names(settings)
        return (
            gr.Dropdown(choices=left, value=left[0] if left else None),
            render.ranking_html(None),
            gr.Button(visible=False),
        )

    def ask_these(interest_: str | None, week_: str, since_: str, until_: str) -> tuple[Any, Any]:
        """The chat, answering from the papers shown: this interest's strong matches, in
        the week or between the dates the tab ranked (if any)."""
        try:
            dates = filters_of(since_, until_, None)
        except Exception as exc:
            gr.Warning(failure(exc))
            return gr.skip(), gr.skip()
        value = scope_value(
            "interest", interest_ or "", week_.strip() or None, dates.since, dates.until
        )
        choices = scope_choices(settings)
        return gr.Tabs(selected="chat"), gr.Dropdown(
            choices=choices if value in choices else [*choices, value], value=value
        )

    private: dict[str, Any] = {"concurrency_limit": None, "api_visibility": "private"}
    for trigger in (go.click, week.submit, since.submit, until.submit):
        trigger(rank, [interest, week, since, until, k], [ranking, ask], **private)
    interest.change(fill, [interest], [name, phrases, negatives, seeds], **private)
    save.click(
        save_interest,
        [name, phrases, negatives, seeds, week, since, until, k],
        [interest, ranking, ask],
        **private,
    )
    remove.click(remove_picked, [interest], [interest, ranking, ask], **private)
    ask.click(ask_these, [interest, week, since, until], [tabs, chat.scope], **private)

    def refreshed(picked: str | None) -> Any:
        # One saved by the CLI since the page loaded is picked when none was: "Rank" then
        # ranks it (it said "Save an interest first." with the only interest unpicked). The
        # value is set only then: setting it fires ``fill``, which would empty the edit
        # fields the user is typing a new interest into.
        names = interest_names(settings)
        if picked in names or not names:
            return gr.Dropdown(choices=names)
        return gr.Dropdown(choices=names, value=names[0])

    return ForYouTab(interest=interest, names=refreshed)
