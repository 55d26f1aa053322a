# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 03 · Training every arm with every seed
#
# The paper (§3.4, §4.2) fine-tunes an ImageNet Xception to tell NORMAL from PNEUMONIA and compares a model
# trained on processed images with one trained on the original images. Here the study's **arms** (each a set
# of the paper's preprocessing steps, declared in the profile) are trained **with the same settings**, once
# per **seed**, so that a difference between arms can be told from the spread between seeds. The notebook shows
# the accuracy and loss curves on train and validation (the paper faults other work for not showing them), the
# training time, and the three operating points each model gets on validation. The test split is not read.
#
# **Inputs:** `processed.csv` (step 02: one `image_<arm>` column per arm, `label`, `subset`), `data.json`.
# **Outputs:** `training/<arm>-seed<k>_history.csv`, `training.json`, `validation_predictions.csv`;
# figures `03_*.png`. Models, frozen features and checkpoints go to `work_dir`.

# %% tags=["parameters"]
run_dir = "reports/dev"
work_dir = "data/work"
arms = {"original": {"clahe": False, "roi": False}, "paper": {"clahe": True, "roi": True}}
seeds = [0]
backbone = "small_cnn"
model_input_size = 96
train_mode = "finetune"
weights = "none"
epochs = 5
batch_size = 16
learning_rate = 1e-3
lr_decay_rate = 0.9
lr_decay_steps = 100
dropout = 0.3
finetune_from_block = None
augment = False
feature_cache = True
precision = "auto"

# %%
import time

import pandas as pd
from IPython.display import Markdown, display

from cxrlib import models
from cxrlib.models import TrainSettings, class_weights, device_name
from cxrlib.run.study import SYNTHETIC_NOTE, StudyRun

pd.set_option("display.max_colwidth", None)
run = StudyRun(run_dir, step="03", work_dir=work_dir)
study_arms = run.arms(arms)

# %% [markdown]
# ## 1. Training and validation images
#
# Validation is the patient-level split of the release's train folder made in step 01 (no child on both
# sides); it picks the best epoch and the thresholds. Class weights `n / (2 n_c)` make the NORMAL and PNEUMONIA
# images weigh the same in total in the loss.

# %%
if run.is_synthetic:
    display(Markdown(SYNTHETIC_NOTE))
table = run.processed()
used = table[table.subset.isin(["train", "val"])]
counts = used.groupby(["subset", "label"]).size().unstack(fill_value=0)
counts["PNEUMONIA per NORMAL"] = (counts["PNEUMONIA"] / counts["NORMAL"]).round(2)
display(counts)
weights_by_class = class_weights((used.label[used.subset == "train"] == "PNEUMONIA").astype(int))
display(Markdown(f"Class weights: NORMAL **{weights_by_class[0]:.2f}**, PNEUMONIA **{weights_by_class[1]:.2f}**. "
                 f"Test rows ({int((table.subset == 'test').sum())}) are left for step 04."))
display(pd.DataFrame([{"arm": a.name, "steps": a.steps, "images": a.column} for a in study_arms]).set_index("arm"))

# %% [markdown]
# ## 2. Settings
#
# Our copy of the paper lacks its Table 1 (the hyperparameters), so every value below that the text does not
# fix is **our choice**. The learning rate follows the paper's Eq. 10, `Lr = Lr_i · D^(s/ds)`, with `s` the
# optimizer step (Keras' `ExponentialDecay`). When a frozen part of a pretrained network exists (`frozen`, or
# `finetune` from a later block), its output is computed once per arm and cached; every seed of the arm reuses
# it, and only what trains is repeated. Augmentation needs images, so it is unavailable on cached features.
# `precision` is the arithmetic: `mixed_bfloat16` computes in bfloat16 and keeps float32 weights (about 1.5 times
# as fast on a CPU with bfloat16 instructions; `benchmarks/precision.py` compares such a run with a float32 one).

# %%
base = dict(backbone=backbone, model_input_size=model_input_size, train_mode=train_mode, weights=str(weights),
            epochs=epochs, batch_size=batch_size, learning_rate=learning_rate, lr_decay_rate=lr_decay_rate,
            lr_decay_steps=lr_decay_steps, dropout=dropout, finetune_from_block=finetune_from_block,
            augment=augment, feature_cache=feature_cache, precision=precision)
display(models.settings_table(TrainSettings(**base, seed=seeds[0])).drop(index="seed"))
display(Markdown(f"Seeds: **{', '.join(map(str, seeds))}**. Device: **{device_name()}**."))

# %% [markdown]
# ## 3. Training
#
# Each arm reads its own images; after each epoch the validation loss, accuracy and ROC AUC are computed and the
# weights of the epoch with the best validation AUC are kept. A rerun resumes from the checkpoints in `work_dir`.

# %%
results, wall = {}, {}
for arm in study_arms:
    started = time.perf_counter()
    for seed in seeds:
        results[arm.name, seed] = models.train_classifier(
            table, image_column=arm.column, settings=TrainSettings(**base, seed=seed), work_dir=work_dir,
            name=models.model_name(arm.name, seed))
    wall[arm.name] = time.perf_counter() - started

rows = []
for (arm, seed), r in results.items():
    rows.append({"arm": arm, "seed": seed, "best epoch": r.best_epoch, "epochs run": len(r.history),
                 "validation AUC": round(r.val_auc, 4),
                 **{f"threshold {k}": round(v, 3) for k, v in r.thresholds.items() if k != "fixed_0.5"},
                 "val accuracy (Youden)": round(float((r.validation.predicted == r.validation.label_int).mean()), 4),
                 "frozen features (s)": round(r.feature_seconds, 1), "training (s)": round(r.train_seconds, 1)})
summary = pd.DataFrame(rows).set_index(["arm", "seed"])
display(summary)
display(Markdown("Wall time per arm (all seeds, features included): "
                 + ", ".join(f"{a} **{s:.0f} s**" for a, s in wall.items()) + "."))

# %% [markdown]
# ## 4. Accuracy and loss curves
#
# Train and validation per epoch, one line per seed (the training loss is class-weighted; the validation loss
# uses the same weights so the two compare). Dotted lines mark the epochs kept.

# %%
histories = {a.name: {s: results[a.name, s].history for s in seeds} for a in study_arms}
best = {a.name: {s: results[a.name, s].best_epoch for s in seeds} for a in study_arms}
run.show(models.plot_histories(histories, best_epochs=best), "curves")

# %% [markdown]
# ## 5. Operating points
#
# All chosen on validation only, and applied unchanged to the test split in step 04: a fixed **0.5**; the
# threshold that maximises **Youden's J** (sensitivity + specificity − 1), midway between the two validation scores
# it separates; and the highest threshold that keeps validation **sensitivity ≥ 0.95** (a screening setting).

# %%
run.show(models.plot_validation_scores({a.name: results[a.name, seeds[0]] for a in study_arms}),
         "validation_scores")

# %% [markdown]
# ## 6. Saved outputs

# %%
paths = models.save_training_outputs(results, run.dir, run.models_dir)
display(Markdown(f"Wrote {len(paths)} files: `training.json`, `validation_predictions.csv`, the histories under "
                 f"`training/` and {len(results)} models under `work_dir`."))

# %% [markdown]
# ## Conclusion

# %%
by_arm = summary.groupby(level="arm", sort=False)["validation AUC"].agg(["mean", "std", "min", "max"])
lines = [f"- **{arm}**: validation AUC {row['mean']:.4f}"
         + (f" (SD {row['std']:.4f} over {len(seeds)} seeds)" if len(seeds) > 1 else "")
         for arm, row in by_arm.iterrows()]
last_epoch = sum(int(r.best_epoch == len(r.history)) for r in results.values())
display(Markdown(
    ("**SYNTHETIC data.** " if run.is_synthetic else "")
    + f"{len(results)} models ({len(study_arms)} arms × {len(seeds)} seeds) trained with the same settings on "
    f"{device_name()}.\n\n" + "\n".join(lines)
    + f"\n\nThe best epoch was the last one for {last_epoch} of {len(results)} models"
    + (": more epochs might still help them." if last_epoch else ".")
    + " Validation comes from the train folder's distribution, so the test split (step 04) is the comparison "
    "that counts."
))
