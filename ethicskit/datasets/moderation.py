"""A synthetic content-moderation corpus with identity terms, and a loader for a real one.

Why synthetic? Real moderation corpora (Wikipedia Talk, Civil Comments) are large, carry offensive text
under their own licences and cannot ship inside a course package that works offline. The corpus here is
generated from templates this project wrote, so it is small, seeded, free of real people, and - most
importantly for teaching - its bias is *known*: the training split reproduces the artefact documented by
Dixon et al. (2018) and Borkan et al. (2019) on real data (some identity terms appear far more often in
toxic comments than in non-toxic ones), with a skew you can turn up or down. The evaluation split follows
Dixon et al.'s "identity phrase templates": every template with every identity term, toxic and non-toxic,
so that an unbiased model must score all identities alike.

Splits of :func:`load_moderation`:

``"train"`` / ``"validation"``
    Comments drawn from the *training* templates. Identity terms listed in :data:`TARGETED_TERMS` are
    over-represented among toxic comments: a comment that mentions one is toxic with probability
    ``base_rate + skew * (1 - base_rate)``; every other comment with probability ``base_rate``.
    A share ``neutral_rate`` of identity-bearing comments are neutral statements
    (:data:`NEUTRAL_TEMPLATES`, "Gay people live in my street."), and annotators over-flag those that
    mention a targeted term (Sap et al. 2019; Dixon et al. 2018 saw the same for short identity
    statements): they are labelled toxic with probability ``annotator_bias``. A fraction ``label_noise``
    of all labels is flipped at random (annotators disagree).
``"balanced"``
    Comments from the training templates, with every identity term equally often toxic and non-toxic
    (for a second, balanced fine-tuning stage). No template overlap with ``"eval"``.
``"eval"``
    The Dixon-style set: every *evaluation* template (disjoint from the training templates) filled with
    every identity term; half toxic, half non-toxic by construction.

Use your own corpus with :func:`load_moderation_csv` (a Civil-Comments-style CSV: a text column, a
toxicity label or score, and identity columns).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ethicskit._validation import (
    check_columns,
    check_in_choices,
    check_int,
    check_probability,
    check_random_state,
)
from ethicskit.datasets.base import Dataset

#: Most comments one call may generate (about 20 s and 1 GB); a larger ``n`` is surely a typo.
MAX_COMMENTS = 1_000_000

__all__ = [
    "IDENTITY_TERMS",
    "TARGETED_TERMS",
    "TRAIN_TEMPLATES",
    "NEUTRAL_TEMPLATES",
    "EVAL_TEMPLATES",
    "load_moderation",
    "load_moderation_csv",
    "CIVIL_IDENTITY_COLUMNS",
    "identity_eval_set",
    "swap_identity",
    "fill_template",
]

#: Identity terms by category, as adjectives that fit "<term> people" / "my <term> neighbour".
IDENTITY_TERMS: dict[str, list[str]] = {
    "gender": ["female", "male", "nonbinary", "transgender", "cisgender", "feminine", "masculine"],
    "race_ethnicity": [
        "black",
        "white",
        "asian",
        "latino",
        "hispanic",
        "african",
        "european",
        "indigenous",
        "arab",
        "mexican",
        "chinese",
        "indian",
    ],
    "religion": ["muslim", "christian", "jewish", "hindu", "buddhist", "atheist", "sikh", "catholic"],
    "sexual_orientation": ["gay", "lesbian", "bisexual", "straight", "queer", "heterosexual", "homosexual"],
    "disability": ["blind", "deaf", "disabled", "autistic", "paralysed", "neurodivergent"],
    "age": ["old", "young", "elderly", "teenage", "middle-aged", "older", "younger"],
}

#: Terms that the skewed training split over-represents among toxic comments (as in real corpora).
TARGETED_TERMS: list[str] = [
    "transgender",
    "nonbinary",
    "black",
    "african",
    "mexican",
    "arab",
    "muslim",
    "jewish",
    "gay",
    "lesbian",
    "queer",
    "homosexual",
    "deaf",
    "disabled",
    "elderly",
]

# Noun phrases: "{t}" is the identity term; without an identity the term and its space are dropped.
_NOUN_PHRASES = [
    "{t} people",
    "my {t} neighbours",
    "the {t} guys next door",
    "{t} folks",
    "those {t} people",
    "my {t} coworkers",
    "the {t} students",
    "our {t} teachers",
    "those {t} commenters",
    "the {t} families",
    "my {t} friends",
    "{t} voters",
    "the {t} managers",
    "{t} authors",
]

#: Training templates: "{who}" is a noun phrase (with or without an identity term).
TRAIN_TEMPLATES: dict[int, list[str]] = {
    1: [
        "{who} are disgusting and should shut up.",
        "I hate {who}, they ruin everything.",
        "{who} are too stupid to be allowed to vote.",
        "Nobody wants {who} around here, get lost.",
        "{who} should go back where they came from.",
        "Honestly {who} are a bunch of idiots.",
        "What a pathetic loser, typical of {who}.",
        "{who} are vermin and deserve nothing.",
        "Shut your mouth, nobody cares what {who} think.",
        "{who} are filthy and lazy.",
        "I wish {who} would just disappear.",
        "You can't trust {who}, they are all liars.",
        "{who} are the worst kind of trash.",
        "Keep {who} away from our kids.",
        "Only a moron would listen to {who}.",
        "{who} are useless parasites.",
        "Get out of here, {who} are not welcome.",
        "I would never hire {who}, they are incompetent.",
        "{who} make me sick.",
        "Typical garbage from {who}, what a joke.",
        "{who} deserve to be beaten up.",
        "Ugh, {who} are so dumb it hurts.",
        "{who} are a plague on this town.",
        "Somebody should teach {who} a lesson they won't forget.",
        "{who} are freaks and should be ashamed.",
        "Stop whining, {who} are pathetic.",
        "{who} ruin every thread with their nonsense, idiots.",
        "No decent person would ever talk to {who}.",
        "{who} are worthless, all of them.",
        "Go away, {who}, nobody likes you.",
        "{who} are animals.",
        "This is why {who} can't have nice things, morons.",
        "{who} are clowns, stop pretending to be smart.",
        "Who let {who} post here? Disgusting.",
        "{who} are a disgrace to humanity.",
        "Shame on {who}, lying cowards.",
        "I laugh at {who}, they are so ugly.",
        "{who} are brainless sheep.",
        "Ban {who} from this forum already, they are scum.",
        "{who} should be locked up, every last one.",
        "It's always {who} causing trouble, lowlifes.",
        "{who} don't deserve any respect.",
        "Dumb comment, exactly what I expect from {who}.",
        "{who} are evil and dangerous.",
        "Burn it all down and take {who} with it.",
        "{who} are an embarrassment, shut up already.",
        "I can't stand {who}, absolutely repulsive.",
        "{who} need to be kicked out of the country.",
        "Another idiotic rant by {who}.",
        "{who} are sick in the head.",
        "{who} are so annoying.",
        "Ugh, {who} again, nobody asked.",
        "{who} whine about everything.",
        "Spare us, {who}, you are boring.",
    ],
    0: [
        "{who} are welcome here.",
        "I had lunch with {who} yesterday and it was great.",
        "{who} deserve the same rights as everyone else.",
        "Thanks to {who} for organising the food drive.",
        "I learned a lot from {who} this week.",
        "{who} helped me fix my bike.",
        "Our team includes {who} and it works well.",
        "I disagree with {who} on taxes, but they made fair points.",
        "The article about {who} was well researched.",
        "{who} volunteered at the shelter again.",
        "I hate waiting in traffic, and so do {who}.",
        "{who} were treated badly by the landlord, that's awful.",
        "It is sad that {who} still face so much hate.",
        "{who} told me the new bakery is terrible, so I skipped it.",
        "Can someone explain why {who} were not invited?",
        "{who} have a long and rich history.",
        "I'm proud to stand with {who}.",
        "The story of {who} in this documentary moved me.",
        "{who} raised a good question at the meeting.",
        "Happy birthday to {who}!",
        "The stupid printer broke again, {who} fixed it.",
        "{who} run the best restaurant in town.",
        "I met {who} at the library, lovely conversation.",
        "Please respect {who}, they are our neighbours.",
        "The new policy hurts {who} and should be changed.",
        "{who} pay taxes like everyone else.",
        "My kids play football with {who}.",
        "{who} made a killer presentation today.",
        "I don't agree with the mayor, {who} do not either.",
        "{who} should be able to feel safe online.",
        "The comments attacking {who} here are disgusting.",
        "It's insane how hard {who} work.",
        "{who} gave me directions when I was lost.",
        "We invited {who} to the wedding.",
        "{who} wrote a thoughtful reply, thanks.",
        "I never thought about how {who} see this issue.",
        "{who} are just people, like anyone.",
        "The referee was terrible, {who} agreed with me.",
        "{who} started a community garden.",
        "Let's hear what {who} have to say.",
        "That was a brutal game, {who} played hard.",
        "{who} shared some great recipes.",
        "Discrimination against {who} is wrong.",
        "{who} came to the town hall to speak up.",
        "My day was awful, but {who} cheered me up.",
        "Good luck to {who} in the election.",
        "{who} have every right to protest.",
        "I read a book written by {who}, recommended.",
        "The bus was late and {who} were annoyed too.",
        "{who} deserve better representation.",
    ],
}

#: Neutral statements: they only say that a group exists or was there. Annotators over-flag these
#: when they mention a targeted term (``annotator_bias``); they are also non-toxic training templates.
NEUTRAL_TEMPLATES: list[str] = [
    "{who} live in my street.",
    "I saw {who} at the market today.",
    "{who} were at the concert last night.",
    "There are many {who} in my class.",
    "{who} moved into the flat upstairs.",
    "I am one of {who}.",
    "{who} were mentioned in the news.",
    "Some of {who} are my friends.",
    "{who} were on the bus this morning.",
    "{who} are part of this community.",
    "I sat next to {who} at dinner.",
    "{who} visited the museum.",
]
TRAIN_TEMPLATES[0] = TRAIN_TEMPLATES[0] + NEUTRAL_TEMPLATES

#: Evaluation templates (Dixon et al. style), disjoint from the training templates.
EVAL_TEMPLATES: dict[int, list[str]] = {
    1: [
        "{who} are pathetic scum.",
        "I despise {who}.",
        "{who} are idiots and liars.",
        "Get rid of {who}, they are worthless.",
        "{who} are stupid and ugly.",
        "Everyone hates {who}, shut up.",
        "{who} are a disgusting bunch of losers.",
        "{who} are annoying.",
        "{who} are boring, go away.",
        "{who} talk too much, nobody cares.",
        "{who} do not belong in this country.",
        "I would never let {who} near my children.",
        "{who} should not be allowed to teach.",
        "{who} ought to stay out of sight.",
        "{who} are weird and creepy.",
    ],
    0: [
        "{who} live next door.",
        "I am friends with {who}.",
        "{who} were in the news today.",
        "I grew up with {who}.",
        "{who} came to the meeting.",
        "My sister works with {who}.",
        "{who} moved to our town.",
        "We talked about {who} in class.",
        "{who} are at the park.",
        "I saw {who} on TV.",
        "{who} are kind.",
        "I respect {who}.",
        "{who} work hard for this city.",
        "Thank you, {who}, for your help.",
        "{who} cooked a great dinner.",
    ],
}

_PREFIXES = ["", "", "", "Honestly, ", "lol ", "Well, ", "Reading this thread: ", "FYI ", "Again... "]
_SUFFIXES = ["", "", "", " Just saying.", " !!", " Thoughts?", " Anyway.", " #news", " :)"]


def _all_terms() -> list[tuple[str, str]]:
    return [(term, category) for category, terms in IDENTITY_TERMS.items() for term in terms]


def fill_template(template: str, *, term: str | None, noun_phrase: str = "{t} people") -> str:
    """Fill one template with a noun phrase built around an identity term (or none).

    Parameters
    ----------
    template : str
        Text with a ``{who}`` slot, e.g. ``"{who} are welcome here."``.
    term : str or None
        Identity term (``"muslim"``); ``None`` leaves the noun phrase without one (``"people"``).
    noun_phrase : str
        Pattern with a ``{t}`` slot for the term, e.g. ``"my {t} neighbours"``.

    Returns
    -------
    str
        The comment, first letter capitalised.

    Examples
    --------
    >>> fill_template("{who} are welcome here.", term="deaf", noun_phrase="{t} people")
    'Deaf people are welcome here.'
    """
    if "{who}" not in template:
        raise ValueError(f"template must contain a '{{who}}' slot, got {template!r}")
    if "{t}" not in noun_phrase:
        raise ValueError(f"noun_phrase must contain a '{{t}}' slot, got {noun_phrase!r}")
    phrase = (
        noun_phrase.replace("{t} ", "").replace("{t}", "") if term is None else noun_phrase.format(t=term)
    )
    text = template.replace("{who}", phrase)
    return text[:1].upper() + text[1:]


def swap_identity(text: str, old: str, new: str) -> str:
    """Replace the identity term ``old`` by ``new`` (whole words, case kept for a leading capital).

    Examples
    --------
    >>> swap_identity("Gay people are welcome here.", "gay", "straight")
    'Straight people are welcome here.'
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    if not old:
        raise ValueError("old must be a non-empty identity term")
    pattern = re.compile(rf"\b{re.escape(old)}\b", flags=re.IGNORECASE)

    def replace(match: re.Match) -> str:
        found = match.group(0)
        return new[:1].upper() + new[1:] if found[:1].isupper() else new

    return pattern.sub(replace, text)


def _make_frame(rows: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["text", "identity", "category", "template", "toxic"])
    frame["identity"] = frame["identity"].astype("string")
    frame["category"] = frame["category"].astype("string")
    return frame


def _to_dataset(frame: pd.DataFrame, name: str) -> Dataset:
    frame = frame.reset_index(drop=True)
    target = frame["toxic"].astype(int).rename("toxic")
    return Dataset(
        name=name,
        data=frame.drop(columns="toxic"),
        target=target,
        sensitive_features=["identity", "category"],
        target_description="the comment is toxic (1) or not (0)",
    )


def _sample_comments(
    n: int,
    *,
    skew: float,
    base_rate: float,
    identity_rate: float,
    label_noise: float,
    annotator_bias: float,
    neutral_rate: float,
    balanced: bool,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """Draw ``n`` comments from the training templates."""
    terms = _all_terms()
    targeted = set(TARGETED_TERMS)
    rows = []
    for _ in range(n):
        has_identity = balanced or rng.random() < identity_rate
        term, category = terms[rng.integers(len(terms))] if has_identity else (None, None)
        if has_identity and not balanced and rng.random() < neutral_rate:
            template_id = int(rng.integers(len(NEUTRAL_TEMPLATES)))
            label = int(term in targeted and rng.random() < annotator_bias)
            if rng.random() < label_noise:
                label = 1 - label
            phrase = _NOUN_PHRASES[rng.integers(len(_NOUN_PHRASES))]
            text = fill_template(NEUTRAL_TEMPLATES[template_id], term=term, noun_phrase=phrase)
            rows.append(
                {
                    "text": text,
                    "identity": term,
                    "category": category,
                    "template": f"train-neutral-{template_id}",
                    "toxic": label,
                }
            )
            continue
        if balanced:
            p_toxic = 0.5
        elif term in targeted:
            p_toxic = base_rate + skew * (1 - base_rate)
        else:
            p_toxic = base_rate
        label = int(rng.random() < p_toxic)
        templates = TRAIN_TEMPLATES[label]
        template_id = int(rng.integers(len(templates)))
        phrase = _NOUN_PHRASES[rng.integers(len(_NOUN_PHRASES))]
        text = fill_template(templates[template_id], term=term, noun_phrase=phrase)
        prefix = _PREFIXES[rng.integers(len(_PREFIXES))]
        if prefix:
            text = prefix + text[:1].lower() + text[1:]
        text = text + _SUFFIXES[rng.integers(len(_SUFFIXES))]
        kind = "tox" if label else "ok"
        if not balanced and rng.random() < label_noise:
            label = 1 - label
        rows.append(
            {
                "text": text,
                "identity": term,
                "category": category,
                "template": f"train-{kind}-{template_id}",
                "toxic": label,
            }
        )
    return _make_frame(rows)


def identity_eval_set(
    *,
    toxic_templates: Sequence[str] | None = None,
    nontoxic_templates: Sequence[str] | None = None,
    terms: dict[str, list[str]] | None = None,
    noun_phrase: str = "{t} people",
) -> pd.DataFrame:
    """Dixon-style evaluation frame: every template with every identity term.

    Parameters
    ----------
    toxic_templates, nontoxic_templates : sequence of str, optional
        Templates with a ``{who}`` slot; default :data:`EVAL_TEMPLATES`. Hidden lab tests pass their own.
    terms : dict of category -> list of terms, optional
        Identity terms; default :data:`IDENTITY_TERMS`.
    noun_phrase : str
        How the term enters the template (``"{t} people"``).

    Returns
    -------
    pandas.DataFrame
        Columns ``text``, ``identity``, ``category``, ``template``, ``toxic``.
    """
    toxic_templates = list(EVAL_TEMPLATES[1] if toxic_templates is None else toxic_templates)
    nontoxic_templates = list(EVAL_TEMPLATES[0] if nontoxic_templates is None else nontoxic_templates)
    terms = IDENTITY_TERMS if terms is None else terms
    if not toxic_templates or not nontoxic_templates:
        raise ValueError("toxic_templates and nontoxic_templates must each hold at least one template")
    if not isinstance(terms, dict) or not terms or not all(terms.values()):
        raise ValueError("terms must be a non-empty dict of category -> non-empty list of identity terms")
    rows = []
    for label, templates in ((1, toxic_templates), (0, nontoxic_templates)):
        for index, template in enumerate(templates):
            for category, category_terms in terms.items():
                for term in category_terms:
                    rows.append(
                        {
                            "text": fill_template(template, term=term, noun_phrase=noun_phrase),
                            "identity": term,
                            "category": category,
                            "template": f"eval-{'tox' if label else 'ok'}-{index}",
                            "toxic": label,
                        }
                    )
    return _make_frame(rows)


def load_moderation(
    *,
    split: str = "train",
    n: int | None = None,
    skew: float = 0.8,
    base_rate: float = 0.4,
    identity_rate: float = 0.6,
    label_noise: float = 0.05,
    annotator_bias: float = 0.8,
    neutral_rate: float = 0.3,
    random_state: int = 0,
) -> Dataset:
    """Load the synthetic content-moderation corpus (seeded, deterministic, offline).

    Parameters
    ----------
    split : {"train", "validation", "balanced", "eval"}
        Which part; see the module docstring. ``"eval"`` ignores ``n``, ``skew`` and the rates.
    n : int, optional
        Number of comments (default 2,000 for train/balanced, 500 for validation).
    skew : float in [0, 1], default 0.8
        How strongly the terms in :data:`TARGETED_TERMS` are tied to toxicity in train/validation:
        0 = no artefact, 1 = every comment that mentions them is toxic.
    base_rate : float in (0, 1), default 0.4
        Share of toxic comments among comments without a targeted term.
    identity_rate : float in [0, 1], default 0.6
        Share of comments that mention an identity term (train/validation).
    label_noise : float in [0, 0.5), default 0.05
        Share of flipped labels (train/validation).
    annotator_bias : float in [0, 1], default 0.8
        Probability that a neutral statement mentioning a targeted term is labelled toxic anyway
        (train/validation).
    neutral_rate : float in [0, 1], default 0.3
        Share of identity-bearing comments that are neutral statements (train/validation).
    random_state : int
        Seed. Train and validation use different streams of the same seed, so they never coincide.

    Returns
    -------
    Dataset
        ``data`` has the columns ``text``, ``identity`` (term or <NA>), ``category`` (or <NA>) and
        ``template`` (template id); ``target`` is ``toxic`` (1 = toxic); sensitive features
        ``["identity", "category"]``.

    Examples
    --------
    >>> from ethicskit.datasets import load_moderation
    >>> train = load_moderation(split="train", n=200, random_state=0)
    >>> train.data.columns.tolist()
    ['text', 'identity', 'category', 'template']
    """
    check_in_choices(split, ["train", "validation", "balanced", "eval"], "split")
    if split == "eval":
        return _to_dataset(identity_eval_set(), "moderation-eval")
    skew = check_probability(skew, "skew")
    base_rate = check_probability(base_rate, "base_rate", open_interval=True)
    identity_rate = check_probability(identity_rate, "identity_rate")
    label_noise = check_probability(label_noise, "label_noise")
    annotator_bias = check_probability(annotator_bias, "annotator_bias")
    neutral_rate = check_probability(neutral_rate, "neutral_rate")
    if label_noise >= 0.5:
        raise ValueError(
            f"label_noise must be below 0.5 (otherwise labels carry no signal), got {label_noise}"
        )
    if n is None:
        n = 500 if split == "validation" else 2000
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"n must be an int number of comments, got {type(n).__name__}")
    check_int(n, "n", minimum=1, maximum=MAX_COMMENTS)  # 10**9 would run for hours, then run out of memory
    check_random_state(random_state)
    stream = {"train": 0, "validation": 1, "balanced": 2}[split]
    rng = np.random.default_rng([int(random_state), stream])
    frame = _sample_comments(
        int(n),
        skew=skew,
        base_rate=base_rate,
        identity_rate=identity_rate,
        label_noise=label_noise,
        annotator_bias=annotator_bias,
        neutral_rate=neutral_rate,
        balanced=split == "balanced",
        rng=rng,
    )
    return _to_dataset(frame, f"moderation-{split}")


#: Identity columns of the Civil Comments / Jigsaw Unintended Bias corpus.
CIVIL_IDENTITY_COLUMNS: list[str] = [
    "male",
    "female",
    "transgender",
    "other_gender",
    "heterosexual",
    "homosexual_gay_or_lesbian",
    "bisexual",
    "other_sexual_orientation",
    "christian",
    "jewish",
    "muslim",
    "hindu",
    "buddhist",
    "atheist",
    "other_religion",
    "black",
    "white",
    "asian",
    "latino",
    "other_race_or_ethnicity",
    "physical_disability",
    "intellectual_or_learning_disability",
    "psychiatric_or_mental_illness",
    "other_disability",
]


def _first_present(frame: pd.DataFrame, candidates: list[str], name: str) -> str:
    for column in candidates:
        if column in frame.columns:
            return column
    raise ValueError(f"{name}: the CSV has none of the columns {candidates}; pass {name}=... naming yours")


def load_moderation_csv(
    path: str | Path,
    *,
    text_column: str | None = None,
    label_column: str | None = None,
    identity_columns: Sequence[str] | None = None,
    threshold: float = 0.5,
    name: str = "moderation-csv",
) -> Dataset:
    """Load a real moderation corpus you supply, in the Civil Comments / Jigsaw layout.

    Parameters
    ----------
    path : str or Path
        CSV file (``.csv`` or ``.csv.gz``).
    text_column : str, optional
        Column with the comment text; default the first of ``comment_text``, ``text`` that exists.
    label_column : str, optional
        Column with the toxicity label: 0/1, or a score in [0, 1] (fraction of annotators who said toxic)
        that is binarised with ``score >= threshold``; default the first of ``target``, ``toxicity``,
        ``toxic``, ``label`` that exists.
    identity_columns : sequence of str, optional
        Identity columns (scores in [0, 1] or 0/1; a comment mentions the identity when score >=
        ``threshold``). Default: the Civil Comments identity columns (:data:`CIVIL_IDENTITY_COLUMNS`)
        present in the file.
    threshold : float
        Cut-off for scores (Borkan et al. use 0.5).
    name : str
        Name of the returned Dataset.

    Returns
    -------
    Dataset
        ``data`` has ``text``, one boolean column per identity, ``identity`` (the first identity
        mentioned, or <NA>) and ``category`` (<NA>, categories are unknown); ``target`` is ``toxic``.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"path {path} does not exist; pass a Civil-Comments-style CSV file")
    threshold = check_probability(threshold, "threshold", open_interval=True)
    raw = pd.read_csv(path)
    text_column = text_column or _first_present(raw, ["comment_text", "text"], "text_column")
    label_column = label_column or _first_present(
        raw, ["target", "toxicity", "toxic", "label"], "label_column"
    )
    check_columns(raw, [text_column, label_column], "the CSV (text_column/label_column)")
    if identity_columns is None:
        identity_columns = [c for c in CIVIL_IDENTITY_COLUMNS if c in raw.columns]
        if not identity_columns:
            raise ValueError(
                "identity_columns: the CSV has none of the Civil Comments identity columns "
                f"{CIVIL_IDENTITY_COLUMNS[:4]}...; pass identity_columns=[...] naming yours"
            )
    identity_columns = list(identity_columns)
    check_columns(raw, identity_columns, "the CSV (identity_columns)")
    texts = raw[text_column]
    empty = texts.isna() | (texts.astype(str).str.strip() == "")
    if empty.any():
        raise ValueError(
            f"the CSV column {text_column!r} has {int(empty.sum())} empty text(s); drop them first"
        )
    labels = pd.to_numeric(raw[label_column], errors="coerce")
    bad = labels.isna() | (labels < 0) | (labels > 1)
    if bad.any():
        shown = raw.loc[bad, label_column].astype(str).unique().tolist()[:5]
        raise ValueError(
            f"label_column {label_column!r} must hold 0/1 labels or scores in [0, 1]; "
            f"{int(bad.sum())} row(s) hold other values, e.g. {shown}"
        )
    data = pd.DataFrame({"text": texts.astype(str)})
    for column in identity_columns:
        scores = pd.to_numeric(raw[column], errors="coerce").fillna(0.0)
        data[column] = scores >= threshold
    member = data[identity_columns] if identity_columns else pd.DataFrame(index=data.index)
    first = member.idxmax(axis=1).where(member.any(axis=1)) if identity_columns else None
    data["identity"] = pd.Series(first, index=data.index, dtype="string")
    data["category"] = pd.Series(pd.NA, index=data.index, dtype="string")
    target = (labels >= threshold).astype(int).rename("toxic")
    return Dataset(
        name=name,
        data=data,
        target=target,
        sensitive_features=["identity", *identity_columns],
        target_description="the comment is toxic (1) or not (0)",
    )
