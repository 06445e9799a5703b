"""Hand-grading help, measured: how well answers are grouped by meaning and copies are flagged.

Generates answer sets with known groups (several ideas, each written in different words by several
students) and known copies (a student hands in another's answer with small edits: case, punctuation,
one word), runs :mod:`ethicskit.course.answers` on them with the bundled encoder, and prints pairwise
precision and recall of the grouping and of the copy flags.

    .venv/bin/python benchmarks/bench_answers.py [--students-per-idea 6] [--copies 6] [--seed 0]
"""

from __future__ import annotations

import argparse
import itertools
import random
import time

from ethicskit.course.answers import Answer, group_answers, similar_pairs

IDEAS = {
    "reidentification": [
        "Removing names is not enough, because {qi} can be linked to public records to find people.",
        "Even without names, {qi} together identify many people uniquely.",
        "An attacker can join the {qi} with a voter list and re-identify the rows.",
        "Dropping the name column does not anonymise the data: {qi} still single people out.",
    ],
    "unequal-errors": [
        "The model wrongly flags {group} defendants as high risk more often than others.",
        "{group} people get more false positives, so the harm of a wrong decision falls on them.",
        "False positive rates differ: {group} defendants are misclassified as risky more often.",
        "The error that hurts people, a false high-risk label, is more frequent for {group} defendants.",
    ],
    "consent": [
        "People did not agree to this use of their data, so consent for {use} is missing.",
        "The data was collected for another purpose; using it for {use} needs new consent.",
        "Purpose limitation: {use} was never part of what people consented to.",
        "Without asking people again, training for {use} breaks the consent they gave.",
    ],
    "energy": [
        "Fine-tuning only the top layers cut the energy use, but it lowered the worst group's AUC.",
        "The cheaper training run used less electricity and was less fair to the worst-off identity.",
        "Saving energy by freezing layers cost fairness: the minimum BPSN AUC went down.",
        "Less compute meant a lower carbon cost and a worse result for the hardest identity group.",
    ],
}
FILL = {
    "qi": ["zip code, birth date and sex", "postcode and date of birth", "age, zip code and gender"],
    "group": ["African-American", "Black", "young"],
    "use": ["advertising", "credit scoring", "model training"],
}


def _write(template: str, rng: random.Random) -> str:
    for key, values in FILL.items():
        template = template.replace("{" + key + "}", rng.choice(values))
    return template


def _copy(text: str, rng: random.Random) -> str:
    words = text.split()
    index = rng.randrange(len(words))
    words[index] = words[index].upper() if rng.random() < 0.5 else words[index] + ","
    return " ".join(words).replace(".", "!")


def make_answers(per_idea: int, copies: int, seed: int) -> tuple[list[Answer], dict[str, str], set]:
    """Answers, the true idea of each student, and the true copied pairs."""
    rng = random.Random(seed)
    answers, idea_of = [], {}
    for idea, templates in IDEAS.items():
        for n in range(per_idea):
            student = f"{idea}-{n}"
            answers.append(Answer(student, "answer", _write(templates[n % len(templates)], rng), "prose"))
            idea_of[student] = idea
    copied = set()
    for n in range(copies):
        source = rng.choice(answers[: len(idea_of)])
        student = f"copy-{n}"
        answers.append(Answer(student, "answer", _copy(source.text, rng), "prose"))
        idea_of[student] = idea_of[source.student]
        copied.add(frozenset((source.student, student)))
    return answers, idea_of, copied


def _precision_recall(found: set, truth: set) -> tuple[float, float]:
    hit = len(found & truth)
    return (hit / len(found) if found else 1.0), (hit / len(truth) if truth else 1.0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students-per-idea", type=int, default=4)
    parser.add_argument("--copies", type=int, default=6)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threshold", type=float, default=0.5)
    args = parser.parse_args(argv)
    answers, idea_of, copied = make_answers(args.students_per_idea, args.copies, args.seed)
    # two students wrote the same template with the same fill by chance: not a copy, but identical text
    same_text = {
        frozenset((a.student, b.student)) for a, b in itertools.combinations(answers, 2) if a.text == b.text
    }
    start = time.perf_counter()
    groups = group_answers(answers, threshold=args.threshold)
    seconds = time.perf_counter() - start
    together = {frozenset(p) for g in groups for p in itertools.combinations(g.students, 2)}
    truth = {frozenset((a, b)) for a, b in itertools.combinations(idea_of, 2) if idea_of[a] == idea_of[b]}
    flagged = {frozenset((p.first, p.second)) for p in similar_pairs(answers)}
    group_p, group_r = _precision_recall(together, truth)
    copy_p, copy_r = _precision_recall(flagged, copied | same_text)
    print(f"{len(answers)} answers, {len(IDEAS)} ideas, {len(copied)} copies; grouped in {seconds:.1f} s")
    print("| measure | precision | recall |")
    print("|---|---|---|")
    print(f"| grouping by meaning (pairs), threshold {args.threshold} | {group_p:.2f} | {group_r:.2f} |")
    print(f"| near-copy flags (pairs) | {copy_p:.2f} | {copy_r:.2f} |")
    print(f"groups found: {len(groups)} (true: {len(IDEAS)})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
