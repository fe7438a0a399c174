"""Print a bench_cpu.py JSON-lines file as the Markdown table the README shows.

    python benchmarks/results_table.py benchmarks/results/2026-11-27-cpu.jsonl
"""

from __future__ import annotations

import json
import sys


def _products_alone(result: dict) -> str:
    library = "torch" if result["system"] == "torch" else "numpy"
    rate = result.get("step_matmul_gflops", {}).get(library)
    return f"{rate:.0f}" if rate is not None else "–"


def markdown(records: list[dict]) -> str:
    machine = next(r for r in records if r["record"] == "machine")
    results = [r for r in records if r["record"] == "result"]
    torch_median = {r["config"]: r["median_seconds"] for r in results if r["system"] == "torch"}
    pools = [b for b in machine["blas"] if b.get("user_api") == "blas"]
    blas = next((b for b in pools if "numpy" in b.get("filepath", "")), pools[0] if pools else {})
    lines = [
        f"{machine['cpu_model']}, {machine['cpu_count']} cores, {blas.get('prefix', '?')} {blas.get('version', '')} "
        f"({blas.get('architecture', '?')}, {blas.get('num_threads', '?')} thread(s)), load {machine['loadavg'][0]:.1f}; "
        f"float32 matmul {max(machine['matmul_gflops'].values()):.0f} GFLOP/s; {machine['date']}",
        "",
        "| config | system | median s/epoch | min s | samples/s | dense GFLOP/s | of matmul rate | test acc | ÷ torch | products alone, GFLOP/s |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        peer = torch_median.get(r["config"])
        ratio = f"{r['median_seconds'] / peer:.2f}" if peer else "–"
        lines.append(
            f"| {r['config']} | {r['system']} | {r['median_seconds']:.3f} | {r['min_seconds']:.3f} | "
            f"{r['samples_per_second']:,.0f} | {r['gflops']:.1f} | {r['fraction_of_limit']:.0%} | "
            f"{r['test_accuracy']:.2%} | {ratio} | {_products_alone(r)} |"
        )
    lines += ["", "| target | value | holds |", "|---|---:|---|"]
    for r in records:
        if r["record"] == "target":
            lines.append(f"| {r['what']} {r['target']} | {r['value']:.2f} | {'yes' if r['holds'] else '**no**'} |")
        elif r["record"] == "rss":
            lines.append(f"| peak RSS of `{r['command']}` <= {r['target_mib']} MiB | {r['peak_rss_mib']:.0f} MiB | "
                         f"{'yes' if r['holds'] else '**no**'} |")
    return "\n".join(lines)


if __name__ == "__main__":
    with open(sys.argv[1]) as handle:
        print(markdown([json.loads(line) for line in handle if line.strip()]))
