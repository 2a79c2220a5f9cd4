"""Which parts of a question the papers cover, read by meaning (``assistant.coverage``), and
what the gate, the evidence, the check and the answer do with it."""

from __future__ import annotations

from typing import Any

from assistant.citations import check_text
from assistant.coverage import (
    a_topic,
    coverage,
    main_parts,
    parts_said,
    question_parts,
    uses_words,
)
from assistant.evals.metrics import states_missing
from assistant.models import Evidence, Paper
from assistant.prose import third_person
from assistant.settings import Settings

SPEECH = Paper(
    id="s1",
    title="DiffSpeech: Diffusion for Speech",
    abstract="We propose a diffusion model that synthesizes speech from text. "
    "It cuts the word error rate by 12% on LibriSpeech.",
)
MOTION = Paper(
    id="m1",
    title="MotionGen: Text-to-Motion Generation",
    abstract="We generate long human motion sequences from text descriptions with a "
    "state space backbone.",
)
FLOW = Paper(
    id="f1",
    title="SplatFlow: Multi-frame Optical Flow",
    abstract="We estimate optical flow over several frames. Splatting features from the "
    "previous frame handles occluded regions.",
)


def test_a_question_is_cut_into_parts_at_its_frame_and_joints() -> None:
    assert question_parts(
        "What does the collection say about diffusion models for video generation?"
    ) == ["diffusion", "video generation"]
    assert question_parts("Which KV cache compression methods work without retraining?") == [
        "KV cache compression",
        "retraining",
    ]
    assert question_parts("How does GPT-4o do on SWE-bench in 2024?") == ["GPT-4o", "SWE-bench"]
    assert question_parts("Which papers are there?") == []
    # an aside in brackets gives examples: the theme rule reads the question without it
    kv = "How is the KV cache shrunk (eviction, merging, quantization)?"
    assert main_parts(kv) == ["KV cache shrunk"] and len(question_parts(kv)) == 4
    # what a chat adds is no part (the answers read "The indexed papers don't cover idea",
    # "... don't cover Anything designed specifically"), but a name keeps its words
    assert question_parts("Does the same idea work for video?") == ["video"]
    assert question_parts("Anything designed specifically for speech?") == ["speech"]
    assert question_parts("What if I'm free to pretrain?") == ["free", "pretrain"]
    # nor the person a method serves (the demo opened "The indexed papers don't cover
    # “person”; the closest are Lina-Speech ...", a voice-cloning paper)
    voice = "Which papers make speech sound like a particular person from a few seconds of voice?"
    assert question_parts(voice) == ["speech sound", "seconds", "voice"]
    assert question_parts("How does Segment Anything 2 track objects?") == [
        "Segment Anything",
        "track objects",
    ]
    # "covers" frames what a paper is asked about, like "mentions": it is no part of the topic
    # (an answer's "covers deepfakes" was flagged, as no paper says "covers deepfakes")
    asked = "The model covers deepfakes; does it also detect fake fingerprints?"
    assert question_parts(asked) == ["deepfakes", "fake fingerprints"]
    # the verb that says what papers do is frame: the demo answered "How do recent papers
    # measure hallucination in language models?" from "LLMs Know More ...: On the Intrinsic
    # Representation of LLM Hallucinations" and opened "The indexed papers don't cover
    # measure hallucination"
    assert question_parts("How do recent papers measure hallucination?") == ["hallucination"]
    assert question_parts("Is there a method that compresses KV caches?") == ["KV caches"]
    assert question_parts("What papers cover video generation?") == ["video generation"]
    # ... alone too: the "Which of those works without retraining?" asks one thing
    assert question_parts("Which of those need no retraining?") == ["retraining"]
    # "it" is frame, and so is its verb (an opening read "don't cover “it need”"), not "fast"
    assert question_parts("How many parameters does it need?") == ["parameters"]
    assert question_parts("Is it fast?") == ["fast"]
    # ... not one that is the topic itself, or a noun ("model weights", "Which tools")
    assert question_parts("Which papers make diffusion models sample faster?") == [
        "diffusion",
        "sample faster",
    ]
    assert question_parts("Do the papers prune model weights?") == ["weights"]
    assert question_parts("Which tools help agents?") == ["tools", "agents"]
    # ... and "were tested on": a participle after "be" whose subject is the papers, when
    # what it was done on follows; alone it is what is asked
    assert question_parts("Which of those were tested on spoken audio?") == ["spoken audio"]
    assert question_parts("Which of them was trained on ImageNet?") == ["ImageNet"]
    assert question_parts("Which models are distilled?") == ["distilled"]
    # ... with "also" between ("Which of these also contribute a benchmark"), and a particle
    # is no part of its noun (an opening read "don't cover “tokens back”")
    assert question_parts("Which of these also contribute a benchmark?") == ["benchmark"]
    assert question_parts("Which papers give evicted tokens back?") == ["evicted tokens"]
    # prepositions and "cannot" join parts ("don't cover “after training”", "... data cannot")
    assert question_parts("Compressing LLaVA after training") == ["Compressing LLaVA", "training"]
    assert question_parts("when the old data cannot be replayed") == ["old data", "replayed"]
    # what a question sets against what it asks is no part of it, to the end of its clause
    assert question_parts(
        "Any that use a diffusion model rather than autoregressive decoding?"
    ) == ["diffusion"]
    assert question_parts("And for Mamba models rather than Transformers?") == ["Mamba"]
    assert question_parts(
        "Which papers train word vectors on music instead of sentences and find keys?"
    ) == ["word vectors", "music", "keys"]
    # "what fraction" asks for a number, not about fractions (core's num-video-hiding-ratio
    # answer opened "The indexed papers don't cover “fraction”" above its 90% masking ratio)
    assert question_parts("When masking video patches, what fraction works best?") == [
        "masking video patches"
    ]
    assert question_parts("By what factor is decoding faster?") == ["decoding faster"]
    assert question_parts("Which masking ratio works best?") == ["masking ratio"]


def test_words_count_only_close_together_and_ignore_hyphens() -> None:
    assert uses_words("deployed without re-training", "retraining")
    # the demo's state space digest said LOCOST "does not say 'state space'"
    assert uses_words("LOCOST: State-Space Models for Long Document Summarization", "state space")
    assert uses_words("occlusions are handled", "occlusion")
    assert uses_words("generation of video clips", "video generation")
    far = "video is one modality among many that diffusion models now cover in generation"
    assert not uses_words(far, "video generation")


def test_coverage_reads_meaning_and_names_need_their_spelling(embedder: Any) -> None:
    covered = coverage(["speech synthesis", "video generation"], [SPEECH, MOTION], embedder)
    assert covered.covers("s1", "speech synthesis"), "said in other words: synthesizes speech"
    assert covered.uncovered() == ["video generation"]
    assert covered.on_question("s1") and not covered.on_question("m1")
    named = coverage(["GPT-4o"], [Paper(id="g", title="GPT-4", abstract="GPT-4 is big.")], embedder)
    assert named.uncovered() == ["GPT-4o"], "a made-up name is covered only by its spelling"


def _evidence(*papers: Paper) -> list[Evidence]:
    return [
        Evidence(number=i, paper=p, sentences=[p.abstract], similarity=0.5)
        for i, p in enumerate(papers, 1)
    ]


def test_a_sentence_that_restates_the_question_as_a_finding_is_not_supported(
    embedder: Any,
) -> None:
    question = "Which papers handle occlusion in optical flow?"
    checked = check_text(
        "MotionGen generates long human motion sequences from text and handles occlusion [2]. "
        "SplatFlow handles occluded regions by splatting features from the previous frame [1].",
        _evidence(FLOW, MOTION),
        embedder,
        0.45,
        renumber=False,
        question=question,
    )
    echo, right = checked.sentences
    assert echo.unstated == ["occlusion"] and echo.supported is False
    assert "occlusion" in (echo.problem or "")
    assert right.supported is True and not right.unstated and not right.off_question
    assert parts_said(echo.text, question_parts(question)) == ["occlusion"]
    # A sentence that says a paper does not do what was asked claims nothing of it (the
    # partial suite's "it does not detect fake fingerprints" was flagged for the fingerprints).
    denial = check_text(
        "MotionGen generates human motion from text but does not handle occlusion [2].",
        _evidence(FLOW, MOTION),
        embedder,
        0.45,
        renumber=False,
        question=question,
    ).sentences[0]
    assert not denial.unstated


PAST_TENSE = Paper(
    id="pt1",
    title="Does Refusal Training in LLMs Generalize to the Past Tense?",
    abstract="Refusal training is widely used to prevent LLMs from generating harmful, "
    "undesirable, or illegal outputs. We reveal a curious generalization gap in the current "
    "refusal training approaches: simply reformulating a harmful request in the past tense "
    '(e.g., "How to make a Molotov cocktail?" to "How did people make a Molotov cocktail?") is '
    "often sufficient to jailbreak many state-of-the-art LLMs. We systematically evaluate this "
    "method on Llama-3 8B, Claude-3.5 Sonnet, GPT-3.5 Turbo, Gemma-2 9B, Phi-3-Mini, GPT-4o "
    "mini, GPT-4o, and R2D2 models using GPT-3.5 Turbo as a reformulation model.",
)
REFUSAL_TOKENS = Paper(
    id="rt1",
    title="Refusal Tokens: A Simple Way to Calibrate Refusals in Large Language Models",
    abstract="A key component of building safe and reliable language models is enabling the "
    "models to appropriately refuse to follow certain instructions or answer certain "
    "questions. We may want models to output refusal messages for various categories of user "
    "queries, for example, ill-posed questions, instructions for committing illegal acts, or "
    "queries which require information past the model's knowledge horizon.",
)


def test_a_sentence_answering_which_in_the_questions_words_is_supported_by_coverage(
    embedder: Any,
) -> None:
    # The chat's follow-up "Which of those were tested on requests phrased in the past
    # tense?" got "The paper by [1] tested on requests phrased in the past tense.": 0.39 from
    # the paper's best sentence, and the whole answer was withheld as unsupported.
    question = "Which of those were tested on requests phrased in the past tense?"
    checked = check_text(
        "The paper by [1] tested on requests phrased in the past tense. "
        "Refusal Tokens [2] was tested on requests phrased in the past tense. "
        "The paper by [1] was not tested on requests phrased in the past tense.",
        _evidence(PAST_TENSE, REFUSAL_TOKENS),
        embedder,
        0.45,
        renumber=False,
        question=question,
    )
    right, wrong, denial = checked.sentences
    assert right.support is not None and right.support < 0.45  # the fault this test is about
    assert right.supported is True and right.supported_by == [1] and not right.unstated
    assert wrong.supported is False and "past tense" in wrong.unstated
    assert denial.supported is False
    # a word the question does not use is a claim of its own ("in" is no prefix of "inference")
    from assistant.coverage import restates

    assert restates("The paper by tested on requests phrased in the past tense.", question)
    assert not restates("The paper introduces inference on requests.", question)


LINA = Paper(
    id="lina",
    title="Lina-Speech: Gated Linear Attention is a Fast and Parameter-Efficient Learner for "
    "text-to-speech synthesis",
    abstract="By framing voice cloning as a prompt continuation task, these models excel at "
    "cloning voices from short audio samples. In this work, we introduce Lina-Speech, a model "
    "that replaces traditional self-attention mechanisms with emerging recurrent architectures "
    "like Gated Linear Attention (GLA). Building on the success of initial-state tuning on "
    "RWKV, we extend this technique to voice cloning, enabling the use of multiple speech "
    "samples and full utilization of the context window in synthesis.",
)


def test_a_yes_needs_its_paper_to_say_what_was_asked(embedder: Any) -> None:
    # Partial dev's "Has the gated-linear-attention text-to-speech approach been shown to work
    # for singing voice synthesis?" got "Yes, ... singing voice synthesis [1]", shown
    # supported: "voice cloning" is near enough to "singing voice synthesis" to cover it
    # (COVER_SIMILARITY), but the paper never mentions singing.
    def check(text: str, question: str) -> Any:
        checked = check_text(
            text, _evidence(LINA), embedder, 0.45, renumber=False, question=question
        )
        return checked.sentences[0]

    singing = (
        "Has the gated-linear-attention approach been shown to work for singing voice synthesis?"
    )
    said = "Lina-Speech has been shown to work for singing voice synthesis [1]."
    yes = check("Yes, " + said[0].lower() + said[1:], singing)
    assert yes.supported is False and yes.unstated == ["singing voice synthesis"]
    cloning = "Has the gated-linear-attention approach been used for voice cloning?"
    right = check("Yes, Lina-Speech [1] extends initial-state tuning to voice cloning.", cloning)
    assert right.supported is True and not right.unstated


def test_a_list_item_claims_what_its_intro_says(embedder: Any) -> None:
    # The demo's follow-up listed three papers under "The papers tested on requests phrased in
    # the past tense include:"; the two that were not were shown supported (by their titles).
    checked = check_text(
        "The papers tested on requests phrased in the past tense include:\n"
        '1. [1] - "Does Refusal Training in LLMs Generalize to the Past Tense?"\n'
        '2. [2] - "Refusal Tokens"\n'
        "Rephrasing a harmful request in the past tense is often enough to jailbreak LLMs [1].",
        _evidence(PAST_TENSE, REFUSAL_TOKENS),
        embedder,
        0.45,
        renumber=False,
        question="Which of those were tested on requests phrased in the past tense?",
    )
    intro, right, wrong, _ = checked.sentences
    assert intro.supported is None and right.supported is True
    assert wrong.support is not None and wrong.support >= 0.45  # its title: the fault
    assert wrong.supported is False and "past tense" in wrong.unstated


def test_a_verb_is_no_topic_but_the_words_beside_it_are() -> None:
    from assistant.coverage import topic_words

    assert topic_words("requests phrased") == "requests"
    assert topic_words("taught underwater sonar imaging") == "underwater sonar imaging"
    assert topic_words("tested") == "" and topic_words("Let's Verify") == "Let's Verify"
    # nor is an adverb or adjective alone ("skip the language model entirely" flagged an
    # answer for "entirely"); a word that can name a thing, or one English lacks, is a topic
    assert not a_topic("entirely") and not a_topic("big") and not a_topic("tested")
    assert a_topic("microcontrollers") and a_topic("satellite") and a_topic("SWE-bench")
    # ... nor a word English uses first as an adverb, whatever nouns it can be: the demo
    # opened "The indexed papers don't cover “low”" (of "keep memory use low"), fu-17 "“free”"
    assert not a_topic("low") and not a_topic("still") and not a_topic("past")
    assert a_topic("long inputs") and a_topic("video")


def test_a_supported_sentence_about_nothing_asked_is_marked_off_the_question(
    embedder: Any,
) -> None:
    checked = check_text(
        "MotionGen generates long human motion sequences from text descriptions [1].",
        _evidence(MOTION),
        embedder,
        0.45,
        question="Which papers handle occlusion in optical flow?",
    )
    (sentence,) = checked.sentences
    assert sentence.supported is True and sentence.off_question


def test_first_person_abstract_voice_is_told_of_the_authors() -> None:
    assert (
        third_person("In this paper, we propose EMS to cut memory [1].", SPEECH)
        == "The authors of DiffSpeech propose EMS to cut memory [1]."
    )
    assert third_person("Results show our model helps [1][2].", None) == (
        "Results show the authors' model helps [1][2]."
    )
    assert third_person("Western benchmarks [1].", SPEECH) == "Western benchmarks [1]."


def test_a_subject_standing_for_the_cited_paper_gets_its_name() -> None:
    from assistant.prose import name_subject

    assert name_subject("This paper proposes splatting [1].", FLOW) == (
        "SplatFlow proposes splatting [1]."
    )
    introduces = name_subject("It introduces splatting [1].", FLOW)
    assert introduces == "SplatFlow introduces splatting [1]."
    # "The paper [3] discusses ... It mentions that ... [2]": "It" read as [3]; it is [2]'s
    mentions = name_subject("It mentions that splatting helps [1].", FLOW)
    assert mentions == "SplatFlow mentions that splatting helps [1]."
    for kept in ("The results improve [1].", "The paper by [1] splats.", "It is fast [1]."):
        assert name_subject(kept, FLOW) == kept
    assert name_subject("SplatFlow splats [1].", FLOW) == "SplatFlow splats [1]."


def test_a_part_no_paper_covers_is_said_first_and_off_question_papers_are_left_out(
    fake_settings: Settings, fake: Any
) -> None:
    from assistant.answer import answer_from
    from assistant.evidence import gather

    question = "Which papers handle occlusion in optical flow for underwater sonar imaging?"
    gathered = gather(question, fake_settings)
    assert gathered.relevant and "underwater sonar imaging" in gathered.uncovered
    assert any(ev.paper.title.startswith("SplatFlow") for ev in gathered.evidence)
    assert all("InfiniMotion" not in ev.paper.title for ev in gathered.evidence), (
        "a text-to-motion paper covers no part of the question: not shown to the model"
    )
    fake.enqueue("SplatFlow splats features from the previous frame to handle occlusions [1].")
    answer = answer_from(gathered, fake_settings).result
    first = answer.sentences[0]
    assert first.note and first.text.startswith(
        "The indexed papers don't cover “underwater sonar imaging”; the closest are "
    )
    assert answer.answer.startswith(first.text) and answer.uncited == 0
    assert states_missing(answer, ["underwater sonar imaging"])


def test_a_verb_left_uncovered_is_not_said_to_be_missing(fake_settings: Settings) -> None:
    # A question in its own words leaves its verb uncovered: the answer opened "The indexed
    # papers don't cover taught" ("let", "tested", "hiding" on the core suite).
    from assistant.coverage import a_topic, coverage, question_parts
    from assistant.embed import get_embedder
    from assistant.evidence import gather

    question = "Which papers taught a model to use tools?"
    gathered = gather(question, fake_settings)
    papers = [h.paper for h in gathered.hits]
    left = coverage(question_parts(question), papers, get_embedder(fake_settings)).uncovered()
    assert left == ["taught"]  # the fault this test is about
    assert gathered.relevant and gathered.uncovered == []
    assert [a_topic(w) for w in ("let", "tested", "hiding", "retraining")] == [False] * 4
    assert all(map(a_topic, ["microcontrollers", "EEG", "spreadsheets", "video generation"]))


def test_what_is_said_missing_is_a_parts_topic_not_the_verb_beside_it(embedder: Any) -> None:
    # The refusal notice and the answer's opening listed uncovered parts verbs and all.
    parts = ["taught underwater sonar imaging", "tested", "requests phrased"]
    covered = coverage(parts, [FLOW, PAST_TENSE], embedder)
    assert covered.uncovered() == parts  # the fault this test is about
    assert covered.missing() == ["underwater sonar imaging"]
    assert covered.states(PAST_TENSE.id, "requests phrased")
    assert not covered.states(FLOW.id, "requests phrased")


def test_a_question_about_a_thing_no_paper_names_is_not_answered(
    fake_settings: Settings,
) -> None:
    from assistant.evidence import gather

    gathered = gather("How much memory does Zorblax-7 save in the KV cache?", fake_settings)
    assert not gathered.relevant and gathered.uncovered == ["Zorblax-7"]
    assert any("none of the closest papers covers 'Zorblax-7'" in n for n in gathered.notices)


def test_the_not_covered_sentence_quotes_parts_and_ends_once() -> None:
    from assistant.coverage import not_covered_sentence

    assert not_covered_sentence(["sample faster"], ["EMS", "SirLLM"]) == (
        "The indexed papers don't cover “sample faster”; the closest are EMS and SirLLM."
    )
    # a title that ends in "?" ends the sentence (the core suite read "... All There Is?.")
    assert not_covered_sentence(["a", "b"], ["Compression Is All There Is?"]) == (
        "The indexed papers don't cover “a” or “b”; the closest are Compression Is All There Is?"
    )


def test_what_a_question_asks_papers_to_do_without_and_what_a_sentence_denies(
    embedder: Any,
) -> None:
    from assistant.coverage import asked_without, denied_things, denies, restates

    assert asked_without("Which of those need no fine-tuning?") == "fine-tuning"
    assert asked_without("Which of them don't require labeled data for training?") == (
        "labeled data"
    )
    assert asked_without("Which ones are training-free?") == "training"
    assert asked_without("Which of those use fine-tuning?") == ""
    assert asked_without("Which of them are not about vision?") == ""  # absence, not denial
    assert denied_things("We propose LM-Infinite, requiring no parameter updates or learning.") == [
        "parameter updates or learning"
    ]
    assert denied_things(
        "We extend the context with no architectural changes and no additional memory costs "
        "than training on the original lengths."
    ) == ["architectural changes", "memory costs"], "a denial's reach ends at its phrase"
    free = Paper(id="x", title="X", abstract="A training-free method that merges tokens.")
    needs = Paper(
        id="y",
        title="Y",
        abstract="Common solutions such as finetuning on longer corpora are "
        "costly. We fine-tune on long documents.",
    )
    updates = Paper(id="z", title="Z", abstract="It requires no parameter updates or learning.")
    assert denies(free, "training", embedder) and not denies(needs, "fine-tuning", embedder)
    assert denies(updates, "fine-tuning", embedder), "denied in other words (0.42)"
    field = Paper(
        id="w",
        title="W",
        abstract="Machine unlearning removes a sample's influence without retraining from "
        "scratch. We propose W, which trains an adapter per data shard.",
    )
    assert not denies(field, "retraining", embedder), "the field's background, not the paper's"
    question = "Which of those need no fine-tuning?"
    assert restates(
        "The papers that do not need fine-tuning are Xen and Yor.",
        question,
        ("Xen", "Yor"),
        "fine-tuning",
    )
    assert not restates("Xen needs fine-tuning.", question, ("Xen", "Yor"), "fine-tuning")
    assert not restates(
        "Xen does not need fine-tuning, while Yor needs fine-tuning.",
        question,
        ("Xen", "Yor"),
        "fine-tuning",
    )
    assert not restates("X does not need fine-tuning.", "Which of those use fine-tuning?")
    from assistant.coverage import affirms

    assert affirms("Yor needs fine-tuning.", "fine-tuning")
    assert not affirms("Xen works without any fine-tuning.", "fine-tuning")
