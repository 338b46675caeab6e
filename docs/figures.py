"""Regenerate the small PNGs the documentation shows, from the recipes themselves.

    python docs/figures.py            # runs each recipe into a temporary folder, copies its plots

Each entry maps a recipe and one of the plots it writes to the name the pages
use under docs/figures/.  The recipes are the ones `deepgrad train` runs, so
the figures are exactly what a user gets.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
FIGURES = {
    ("spiral", "decision_regions.png"): "spiral_decision_regions.png",
    ("spiral", "learning_curves.png"): "spiral_learning_curves.png",
    ("init-compare", "activations_relu.png"): "init_activations_relu.png",
    ("init-compare", "learning_curves.png"): "init_learning_curves.png",
    ("optimizer-compare", "trajectories_rosenbrock.png"): "optim_trajectories_rosenbrock.png",
    ("lr-schedules", "schedules.png"): "lr_schedules.png",
    ("regularization-compare", "generalization_gap.png"): "regularization_generalization_gap.png",
    ("gnn-sbm", "accuracy.png"): "gnn_sbm_accuracy.png",
    ("detect-shapes", "detections.png"): "detect_shapes_detections.png",
    ("cartpole-a2c", "returns.png"): "cartpole_a2c_returns.png",
    ("style-transfer", "style_transfer.png"): "style_transfer.png",
    ("gan-2d", "generated_over_real.png"): "gan_2d.png",
    ("reverse", "attention_maps.png"): "reverse_attention.png",
    # these read MNIST from $DEEPGRAD_DATA (or ~/.cache/deepgrad): set it before running
    ("adversarial", "accuracy_linf.png"): "adversarial_accuracy_linf.png",
    ("forgetting", "forgetting.png"): "forgetting.png",
    ("mc-dropout", "entropy.png"): "mc_dropout_entropy.png",
}


def main() -> int:
    out = HERE / "figures"
    out.mkdir(exist_ok=True)
    recipes = sorted({recipe for recipe, _ in FIGURES})
    with tempfile.TemporaryDirectory() as tmp:
        for recipe in recipes:
            run_dir = Path(tmp) / recipe
            cmd = [sys.executable, "-m", "deepgrad", "train", recipe, "--out", str(run_dir)]
            print("running:", " ".join(cmd[1:]), flush=True)
            subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
            for (name, plot), target in FIGURES.items():
                if name == recipe:
                    shutil.copyfile(run_dir / plot, out / target)
                    print("  wrote", out / target)
    return 0


if __name__ == "__main__":
    sys.exit(main())
