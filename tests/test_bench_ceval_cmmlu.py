"""C-Eval and CMMLU: EvalScope's prompts byte for byte (against its published sample and prompt-length
statistics), C-Eval's `答案：X` extraction, and both benchmarks end to end over all their subjects against
the loopback oracle server, serial and with xdist, with exact counts and category rows."""

from __future__ import annotations

import csv
import json
import statistics
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from pytest_evalscope.registry import create_benchmark
from pytest_evalscope.testing.server import ServerConfig, serve_in_subprocess

from .conftest import SHARED

CEVAL_DIR = SHARED / "datasets" / "ceval"  # val/<subject>_val.csv, dev/<subject>_dev.csv (ceval-exam.zip)
CMMLU_DIR = SHARED / "datasets" / "cmmlu"  # test/<subject>.csv (the CMMLU repository)
LIMIT = 2


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def hub_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The shared CSVs in EvalScope's hub schemas: C-Eval a folder per subject; CMMLU one `default` split
    holding every subject, told apart by `category`, with choices `(A) …` and answers `(B) …`."""
    if not CEVAL_DIR.is_dir() or not CMMLU_DIR.is_dir():
        pytest.fail(f"the shared C-Eval/CMMLU data is missing: expected {CEVAL_DIR} and {CMMLU_DIR}")
    root = tmp_path_factory.mktemp("hub")
    ceval = create_benchmark("ceval")
    for subject in ceval.subset_list:
        (root / "ceval" / subject).mkdir(parents=True)
        for split in ("val", "dev"):
            rows = [{**row, "id": int(row["id"]), "explanation": row.get("explanation", "")}
                    for row in read_csv(CEVAL_DIR / split / f"{subject}_{split}.csv")]
            (root / "ceval" / subject / f"{split}.jsonl").write_text(
                "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
    lines = []
    for subject in create_benchmark("cmmlu").subset_list:
        for n, row in enumerate(read_csv(CMMLU_DIR / "test" / f"{subject}.csv")):
            choices = [f"({letter}) {row[letter]}" for letter in "ABCD"]
            lines.append({"id": n, "question": row["Question"], "choices": choices, "category": subject,
                          "answer": choices["ABCD".index(row["Answer"])]})
    (root / "cmmlu").mkdir()
    (root / "cmmlu" / "test.jsonl").write_text(
        "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines), encoding="utf-8")
    return {"ceval": root / "ceval", "cmmlu": root / "cmmlu"}


# ---------------------------------------------------------------- prompts

CEVAL_HEADER = "以下是一些示例问题：\n\n"
CEVAL_INSTRUCTION = ("以下是中国关于{}的单项选择题，请选出其中的正确答案。你的回答的最后一行应该是这样的格式："
                     "\"答案：[LETTER]\"（不带引号），其中 [LETTER] 是 A、B、C、D 中的一个。\n\n")
# EvalScope's own rendering of computer_network/val #0 (docs/en/benchmarks/ceval.md), around its "[TRUNCATED]".
EVALSCOPE_CEVAL_HEAD = (
    "以下是一些示例问题：\n\n问题：下列设备属于资源子网的是____。\n选项：\nA. 计算机软件\nB. 网桥\nC. 交换机\nD. 路由器\n"
    "解析：1. 首先，资源子网是指提供共享资源的网络，如打印机、文件服务器等。\r\n2. 其次，我们需要了解选项中设备的功能。"
    "网桥、交换机和路由器的主要功能是实现不同网络之间的通信和数据传输，是通信子网设备。而计算机软件可以提供共享资源的功能。"
    "\n答案：A\n\n问题：滑动窗口的作用是____。\n选项：\nA. 流量控制\nB. 拥塞控制\nC. 路由控制\nD. 差错"
)
EVALSCOPE_CEVAL_TAIL = (
    "Mbps，所以答案为min{80Mbps, 100Mbps}=80Mbps，选C。\n答案：C\n\n\n以下是中国关于计算机网络的单项选择题，"
    "请选出其中的正确答案。你的回答的最后一行应该是这样的格式：\"答案：[LETTER]\"（不带引号），其中 [LETTER] 是 A、B、C、D "
    "中的一个。\n\n问题：使用位填充方法，以01111110为位首flag，数据为011011111111111111110010，求问传送时要添加几个0____\n"
    "选项：\nA. 1\nB. 2\nC. 3\nD. 4\n"
)
# EvalScope's rendering of cmmlu agronomy #0 (docs/en/benchmarks/cmmlu.md).
EVALSCOPE_CMMLU_AGRONOMY_0 = (
    "回答下面的单项选择题，请选出其中的正确答案。你的回答的最后一行应该是这样的格式：\"答案：[LETTER]\"（不带引号），"
    "其中 [LETTER] 是 A,B,C,D 中的一个。请在回答前进行一步步思考。\n\n"
    "问题：在农业生产中被当作极其重要的劳动对象发挥作用，最主要的不可替代的基本生产资料是\n"
    "选项：\nA) 农业生产工具\nB) 土地\nC) 劳动力\nD) 资金\n"
)


def prompt(bench: Any, subset: str, index: int = 0) -> tuple[Any, str]:
    sample = bench.load_samples(subset, index + 1, 1)[index]
    messages = bench.build_messages(sample, bench.fewshot_samples(subset))
    assert len(messages) == 1 and messages[0]["role"] == "user"
    return sample, messages[0]["content"]


def test_ceval_prompt_is_evalscopes_five_shot_prompt(hub_dirs: dict[str, Path]) -> None:
    subject = "computer_network"
    dev = read_csv(CEVAL_DIR / "dev" / f"{subject}_dev.csv")
    val = read_csv(CEVAL_DIR / "val" / f"{subject}_val.csv")[0]

    def options(row: dict[str, str]) -> str:
        return f"A. {row['A']}\nB. {row['B']}\nC. {row['C']}\nD. {row['D']}"

    examples = "\n\n".join(f"问题：{row['question']}\n选项：\n{options(row)}\n解析：{row['explanation']}\n答案：{row['answer']}"
                           for row in dev[:5])
    expected = (CEVAL_HEADER + examples + "\n\n" + "\n" + CEVAL_INSTRUCTION.format("计算机网络")
                + f"问题：{val['question']}\n选项：\n{options(val)}\n")
    for root in (CEVAL_DIR, hub_dirs["ceval"]):  # ceval-exam's layout and the hub schema
        sample, content = prompt(create_benchmark("ceval", {"local_path": str(root)}), subject)
        assert content == expected
        assert sample.target == "C" and sample.metadata["choices"] == ["1", "2", "3", "4"]
    assert expected.startswith(EVALSCOPE_CEVAL_HEAD) and expected.endswith(EVALSCOPE_CEVAL_TAIL)
    assert "\r\n" in expected  # explanations keep their CRLF line breaks, as in EvalScope's sample

    zero_shot = create_benchmark("ceval", {"local_path": str(CEVAL_DIR), "few_shot_num": 0})
    assert prompt(zero_shot, "marxism")[1] == (
        CEVAL_INSTRUCTION.format("马克思主义基本原理") + "问题：" + read_csv(CEVAL_DIR / "val" / "marxism_val.csv")[0]["question"]
        + "\n选项：\n" + options(read_csv(CEVAL_DIR / "val" / "marxism_val.csv")[0]) + "\n")


def test_cmmlu_prompt_is_evalscopes_chinese_cot_prompt(hub_dirs: dict[str, Path]) -> None:
    for root in (CMMLU_DIR, hub_dirs["cmmlu"]):  # the repository's CSVs and the hub schema
        bench = create_benchmark("cmmlu", {"local_path": str(root)})
        sample, content = prompt(bench, "agronomy")
        assert content == EVALSCOPE_CMMLU_AGRONOMY_0 and sample.target == "B"
        assert bench.fewshot_samples("agronomy") == []  # 0-shot
        row = read_csv(CMMLU_DIR / "test" / "world_religions.csv")[1]
        sample, content = prompt(bench, "world_religions", 1)
        assert content == (
            "回答下面的单项选择题，请选出其中的正确答案。你的回答的最后一行应该是这样的格式：\"答案：[LETTER]\"（不带引号），"
            "其中 [LETTER] 是 A,B,C,D 中的一个。请在回答前进行一步步思考。\n\n"
            f"问题：{row['Question']}\n选项：\n" + "\n".join(f"{x}) {row[x].strip()}" for x in "ABCD") + "\n")
        assert sample.target == row["Answer"]


# EvalScope's published prompt statistics (docs/en/benchmarks/{ceval,cmmlu}.md): samples, mean/min/max chars.
EVALSCOPE_STATS = {"ceval": (1346, 1643.61, 727, 6605), "cmmlu": (11582, 197.87, 134, 999)}


@pytest.mark.parametrize("name", ["ceval", "cmmlu"])
def test_every_prompt_matches_evalscopes_statistics(name: str) -> None:
    bench = create_benchmark(name, {"local_path": str(CEVAL_DIR if name == "ceval" else CMMLU_DIR)})
    lengths = []
    for subset in bench.subset_list:
        fewshot = bench.fewshot_samples(subset)
        lengths += [len(bench.build_messages(s, fewshot)[0]["content"]) for s in bench.load_samples(subset, None, 1)]
    assert (len(lengths), round(statistics.fmean(lengths), 2), min(lengths), max(lengths)) == EVALSCOPE_STATS[name]


def test_subjects_and_categories_are_evalscopes() -> None:
    ceval, cmmlu = create_benchmark("ceval"), create_benchmark("cmmlu")
    assert (ceval.eval_split, ceval.train_split, ceval.few_shot_num) == ("val", "dev", 5)
    assert (cmmlu.eval_split, cmmlu.train_split, cmmlu.few_shot_num) == ("test", None, 0)
    assert sorted(ceval.subset_list) == sorted(p.name.removesuffix("_val.csv") for p in (CEVAL_DIR / "val").glob("*.csv"))
    assert sorted(cmmlu.subset_list) == sorted(p.stem for p in (CMMLU_DIR / "test").glob("*.csv"))
    assert Counter(map(ceval.category_of, ceval.subset_list)) == {"STEM": 20, "Social Science": 10, "Humanities": 11, "Other": 11}
    assert Counter(map(cmmlu.category_of, cmmlu.subset_list)) == {
        "STEM": 17, "China specific": 15, "Social Science": 13, "Other": 11, "Humanities": 11}
    assert ceval.subset_list[:2] == ["computer_network", "operating_system"] and ceval.category_of("logic") == "Humanities"
    assert cmmlu.category_of("high_school_politics") == "China specific" and cmmlu.category_of("agronomy") == "Other"


@pytest.mark.parametrize(
    ("reply", "ceval", "cmmlu"),
    [
        ("答案：B", "B", "B"),
        ("正确答案是 C。\n\n答案：C", "C", "C"),
        ("答案：A\n\n不过也有人认为答案：D", "D", "D"),  # both take the last 答案：X (EvalScope's C-Eval too)
        # EvalScope 1.14.1 reads C-Eval with its general Chinese parser: either colon, bold, a fallback
        ("分析：选项A不对。\n答案: C", "C", "C"),
        ("答案：**B**", "B", "B"),
        ("所以选 B。", "B", "B"),  # the last capital letter
        ("这道题我无法确定。", None, None),
    ],
)
def test_answer_extraction(reply: str, ceval: str | None, cmmlu: str | None) -> None:
    for name, expected in (("ceval", ceval), ("cmmlu", cmmlu)):
        bench = create_benchmark(name)
        sample = bench.record_to_sample(
            {"question": "q", "A": "a", "B": "b", "C": "c", "D": "d", "answer": "B", "Question": "q", "Answer": "B"}, 0,
            bench.subset_list[0])
        score = bench.score(sample, reply)
        assert score.extracted == expected
        assert score.correct == (expected == "B") and score.status == ("parse_error" if expected is None else "success")


# ---------------------------------------------------------------- end to end


def _other(gold: str) -> str:
    return "ABCD"[("ABCD".index(gold) + 1) % 4]


# (reply writer, the letter C-Eval reads, the letter CMMLU reads): how Chinese chat models answer, some
# wrong on purpose, read alike by the two protocols since EvalScope 1.14.1.
REPLIES = [
    (lambda g: f"答案：{g}", lambda g: g, lambda g: g),
    (lambda g: f"根据题意逐项分析。\n\n正确答案是 {g}。\n\n答案：{g}", lambda g: g, lambda g: g),
    (lambda g: f"<think>初步判断，答案：{_other(g)}？再核对一遍。</think>\n答案：{g}", lambda g: g, lambda g: g),
    (lambda g: f"答案：{_other(g)}", _other, _other),
    (lambda g: "这道题的条件不足，我无法确定。", lambda g: None, lambda g: None),
    (lambda g: f"选项{_other(g)}不符合题意。\n答案: {g}", lambda g: g, lambda g: g),
    (lambda g: f"答案：{g}\n\n不过也有人认为答案：{_other(g)}", _other, _other),
]


def build_oracle(name: str, root: Path) -> tuple[dict[str, str], dict[str, list[tuple[bool, bool]]], Any]:
    """Replies keyed by prompt, and per subject each sample's (correct, unparsed) by design."""
    bench = create_benchmark(name, {"local_path": str(root)})
    oracle: dict[str, str] = {}
    verdicts: dict[str, list[tuple[bool, bool]]] = {}
    n = 0
    for subset in bench.subset_list:
        fewshot = bench.fewshot_samples(subset)
        for sample in bench.load_samples(subset, LIMIT, 1):
            write, ceval_reads, cmmlu_reads = REPLIES[n % len(REPLIES)]
            n += 1
            key = bench.build_messages(sample, fewshot)[-1]["content"].strip()
            assert key not in oracle
            oracle[key] = write(sample.target)
            read = (ceval_reads if name == "ceval" else cmmlu_reads)(sample.target)
            verdicts.setdefault(subset, []).append((read == sample.target, read is None))
    return oracle, verdicts, bench


def expected_categories(bench: Any, verdicts: dict[str, list[tuple[bool, bool]]]) -> list[dict[str, Any]]:
    rows: dict[str, list[list[bool]]] = {}
    for subset in bench.subset_list:
        rows.setdefault(bench.category_of(subset), []).append([ok for ok, _ in verdicts[subset]])
    return [{"name": [category], "num": sum(map(len, parts)),
             "score": round(sum(map(sum, parts)) / sum(map(len, parts)), 4),
             "macro_score": round(statistics.fmean(round(sum(p) / len(p), 4) for p in parts), 4)}
            for category, parts in rows.items()]


@pytest.mark.parametrize("name", ["ceval", "cmmlu"])
def test_all_subjects_score_exactly_serial_and_xdist(pytester: pytest.Pytester, hub_dirs: dict[str, Path], name: str) -> None:
    oracle, verdicts, bench = build_oracle(name, hub_dirs[name])
    total = sum(map(len, verdicts.values()))
    correct = sum(ok for v in verdicts.values() for ok, _ in v)
    assert total == LIMIT * len(bench.subset_list) and 0 < correct < total
    pytester.makepyfile(**{f"eval_{name}": f"from pytest_evalscope import Suite\n{name} = Suite({name!r})\n"})
    reports = {}
    with serve_in_subprocess(ServerConfig(oracle=oracle, max_seconds=120)) as server:
        for workers in ("0", "2"):
            result = pytester.runpytest(
                "--evalscope-model=oracle", f"--evalscope-api-url={server.url}", f"--evalscope-work-dir=out{workers}",
                "--evalscope-dataset-args=" + json.dumps({name: {"local_path": str(hub_dirs[name])}}),
                f"--evalscope-limit={LIMIT}", "--evalscope-eval-batch-size=16", "-p", "no:cacheprovider", "-n", workers)
            result.assert_outcomes(passed=correct, failed=total - correct)
            path = next((pytester.path / f"out{workers}").glob(f"*/reports/oracle/{name}.json"))
            reports[workers] = json.loads(path.read_text())

    report = reports["0"]
    metric = report["metrics"][0]
    assert (report["num"], report["score"]) == (total, round(correct / total, 4))
    assert [{k: row[k] for k in ("name", "num", "score", "macro_score")} for row in metric["categories"]] \
        == expected_categories(bench, verdicts)
    subsets = {s["name"]: s for row in metric["categories"] for s in row["subsets"]}
    assert list(subsets) == [s for row in metric["categories"] for s in bench.subset_list if bench.category_of(s) == row["name"][0]]
    for subset, outcome in verdicts.items():
        assert (subsets[subset]["num"], subsets[subset]["passed"], subsets[subset]["unparsed"]) == (
            LIMIT, sum(ok for ok, _ in outcome), sum(unparsed for _, unparsed in outcome))
    assert {k: v for k, v in reports["0"].items() if k != "perf_metrics"} \
        == {k: v for k, v in reports["2"].items() if k != "perf_metrics"}
