#!/usr/bin/env python3
"""How far emberlite, and LiteRT's own other CPU paths, are from LiteRT's builtin kernels.

    python tools/parity_report.py [--seeds 0 1] [--models NAME ...]

For every mediapipe model LiteRT can run and every output: the max relative error (with the
1e-5 absolute floor, see emberlite/parity.py) of emberlite, of LiteRT's XNNPACK path and of
LiteRT's BUILTIN_REF kernels, each against LiteRT's builtin kernels on the same inputs.  The
parity suite's bar for an output is 1e-4, or twice the XNNPACK figure where that exceeds it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import fetch_models  # noqa: E402

from emberlite.interpreter import Interpreter  # noqa: E402
from emberlite.parity import difference, needs_xnnpack, parity_bar  # noqa: E402
from emberlite.reference import invoke_once, litert, random_inputs  # noqa: E402
from emberlite.schema import read_model  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="*")
    parser.add_argument("--seeds", nargs="*", type=int, default=[0])
    args = parser.parse_args()
    lite = litert()
    paths = fetch_models.fetch()
    names = args.models or sorted(n.removesuffix(".tflite") for n in paths if n.endswith(".tflite"))
    print(
        f"{'model':38} {'out':>3} {'seed':>4} {'emberlite':>10} "
        f"{'XNNPACK':>10} {'BUILTIN_REF':>12} {'bar':>9}  ok"
    )
    worst_ratio = 0.0
    for name in names:
        content = paths[f"{name}.tflite"].read_bytes()
        if needs_xnnpack(read_model(content)):
            print(
                f"{name:38} compared with LiteRT's default path only (custom op): see tests/parity"
            )
            continue
        for seed in args.seeds:

            def lite_run(resolver=None, content=content):
                kwargs = {} if resolver is None else {"experimental_op_resolver_type": resolver}
                return lite.Interpreter(model_content=content, num_threads=1, **kwargs)

            builtin = lite_run(lite.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
            feeds = random_inputs(builtin.get_input_details(), seed)
            try:
                ref = invoke_once(builtin, feeds)
            except RuntimeError as e:
                print(f"{name:38} LiteRT cannot run it: {str(e).splitlines()[0][:60]}")
                break
            runs = [
                invoke_once(Interpreter(model_content=content), feeds),
                invoke_once(lite_run(), feeds),
                invoke_once(lite_run(lite.OpResolverType.BUILTIN_REF), feeds),
            ]
            for k, expected in enumerate(ref):
                ours, xnn, builtin_ref = (difference(r[k], expected).max_rel for r in runs)
                bar = parity_bar(xnn)
                worst_ratio = max(worst_ratio, ours / bar)
                print(
                    f"{name:38} {k:>3} {seed:>4} {ours:>10.2e} {xnn:>10.2e} "
                    f"{builtin_ref:>12.2e} {bar:>9.1e}  " + ("yes" if ours <= bar else "NO")
                )
    print(f"worst emberlite error / bar: {worst_ratio:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
