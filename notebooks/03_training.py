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
# # 03 · Training the two Xception classifiers
#
# The paper (§3.4, §4.2) fine-tunes an ImageNet Xception to tell NORMAL from PNEUMONIA and compares a model
# trained on the processed images (the thorax ROI crops of step 02) with one trained on the original images.
# This notebook trains both **with the same settings**, shows their accuracy and loss curves on train and
# validation (the paper faults other work for not showing them), the training time, and the decision
# threshold each model gets on validation. The test split is not read here.
#
# **Inputs:** `processed.csv` (step 02: `path`, `processed_path`, `label`, `subset`), `data.json` (step 01).
# **Outputs:** `models/{processed,original}.keras`, `training/{name}_history.csv`, `training.json`,
# `validation_predictions.csv`; figures `03_*.png`. Caches (frozen features, checkpoints) go to `work_dir`.

# %% tags=["parameters"]
run_dir = "reports/dev"
work_dir = "data/work"
seed = 0
model_input_size = 96
train_mode = "frozen"
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

# %%
import json
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import Markdown, display

from cxrlib import training
from cxrlib.inputs import class_weights
from cxrlib.training import IMAGE_COLUMNS, TrainSettings

pd.set_option("display.max_colwidth", None)
run_dir = Path(run_dir)
figures = run_dir / "figures"
figures.mkdir(parents=True, exist_ok=True)


def show(fig, name):
    """Show a figure inline and save it under the run's figures/."""
    fig.savefig(figures / f"03_{name}.png", dpi=100, bbox_inches="tight")
    display(fig)
    plt.close(fig)


# %% [markdown]
# ## 1. Training and validation images
#
# Validation is the patient-level split of the release's train folder made in step 01 (no child on both
# sides); it picks the best epoch and the threshold. Class weights `n / (2 n_c)` make the NORMAL and PNEUMONIA
# images weigh the same in total in the loss.

# %%
data_info = json.loads((run_dir / "data.json").read_text())
is_synthetic = data_info["source"] == "synthetic"
if is_synthetic:
    display(Markdown("**Synthetic data:** these models and numbers show the method at work, nothing clinical."))
table = pd.read_csv(run_dir / "processed.csv", keep_default_na=False)
used = table[table.subset.isin(["train", "val"])]
counts = used.groupby(["subset", "label"]).size().unstack(fill_value=0)
counts["PNEUMONIA per NORMAL"] = (counts["PNEUMONIA"] / counts["NORMAL"]).round(2)
display(counts)
weights_by_class = class_weights((used.label[used.subset == "train"] == "PNEUMONIA").astype(int))
display(Markdown(f"Class weights: NORMAL **{weights_by_class[0]:.2f}**, PNEUMONIA **{weights_by_class[1]:.2f}**. "
                 f"Test rows ({int((table.subset == 'test').sum())}) are left for step 04."))

# %% [markdown]
# ## 2. Settings
#
# Our copy of the paper lacks its Table 1 (the hyperparameters), so every value below that the text does not
# fix is **our choice**. The learning rate follows the paper's Eq. 10, `Lr = Lr_i · D^(s/ds)`, with `s` the
# optimizer step (Keras' `ExponentialDecay`). In `frozen` mode (and `finetune` from a later block) the frozen
# part of Xception runs once per image and its output is cached; only then is augmentation unavailable.
# With pretrained weights the batch-normalisation layers keep their ImageNet statistics (from random weights
# they train, with momentum 0.9). On a GPU training runs in mixed precision.

# %%
settings = TrainSettings(
    model_input_size=model_input_size, train_mode=train_mode, weights=str(weights), epochs=epochs,
    batch_size=batch_size, learning_rate=learning_rate, lr_decay_rate=lr_decay_rate,
    lr_decay_steps=lr_decay_steps, dropout=dropout, finetune_from_block=finetune_from_block,
    augment=augment, feature_cache=feature_cache, seed=seed,
)
display(training.settings_table(settings))
display(Markdown(f"Device: **{training.device_name()}**."))

# %% [markdown]
# ## 3. Training
#
# The same settings and seed for both models; `processed` reads `processed_path` (ROI crop), `original` reads
# `path` (whole radiograph). After each epoch the validation loss, accuracy and ROC AUC are computed; the
# weights of the epoch with the best validation AUC are kept. A rerun resumes from the checkpoints in `work_dir`.

# %%
results = {}
for name, column in IMAGE_COLUMNS.items():
    results[name] = training.train_classifier(table, image_column=column, settings=settings,
                                              work_dir=work_dir, name=name)

summary = pd.DataFrame({
    name: {"best epoch": r.best_epoch, "epochs run": len(r.history), "validation AUC": round(r.val_auc, 4),
           "threshold": round(r.threshold, 4),
           "val accuracy at threshold": round(float((r.validation.predicted == r.validation.label_int).mean()), 4),
           "val sensitivity": round(float(r.validation.predicted[r.validation.label_int == 1].mean()), 4),
           "val specificity": round(float(1 - r.validation.predicted[r.validation.label_int == 0].mean()), 4),
           "feature extraction (s)": round(r.feature_seconds, 1),
           "training time (s)": round(r.train_seconds, 1),
           "trainable parameters": r.summary()["trainable_params"]}
    for name, r in results.items()
})
display(summary)

# %% [markdown]
# ## 4. Accuracy and loss curves
#
# Train and validation per epoch for both models (the training loss is class-weighted; the validation loss
# uses the same weights so the two compare). The dotted line marks the epoch kept.

# %%
show(training.plot_histories({n: r.history for n, r in results.items()},
                             best_epochs={n: r.best_epoch for n, r in results.items()}), "curves")

# %% [markdown]
# ## 5. Decision threshold
#
# Chosen on validation only: the threshold that maximises Youden's J (sensitivity + specificity − 1, i.e.
# balanced accuracy), midway between the two validation scores it separates. Step 04 applies it unchanged to
# the test split.

# %%
show(training.plot_validation_scores(results), "validation_scores")

# %% [markdown]
# ## 6. Saved outputs

# %%
paths = training.save_training_outputs(results, run_dir)
display(Markdown("\n".join(f"- `{p.relative_to(run_dir)}`" for p in paths)))

# %% [markdown]
# ## Conclusion

# %%
best = max(results, key=lambda n: results[n].val_auc)
lines = [f"- **{n}**: validation AUC {r.val_auc:.4f} at epoch {r.best_epoch} of {len(r.history)}, "
         f"threshold {r.threshold:.3f}, trained in {r.train_seconds:.0f} s" for n, r in results.items()]
display(Markdown(
    ("On **synthetic** data: " if is_synthetic else "")
    + f"Both models trained with the same settings on {training.device_name()}.\n\n" + "\n".join(lines)
    + f"\n\nOn validation the **{best}** model ranks better; validation comes from the train folder's "
    "distribution, so the test split (step 04) is the comparison that counts."
))
