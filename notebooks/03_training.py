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
import pandas as pd

from cxrlib import data, models
from cxrlib.run import StudyRun

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
table = run.processed()
run.display(data.SYNTHETIC_NOTE if run.is_synthetic else None, models.training_counts(table),
            models.class_weight_sentence(table), models.arms_inputs(study_arms))

# %% [markdown]
# ## 2. Settings
#
# Our copy of the paper lacks its Table 1 (the hyperparameters), so every value below that the text does not
# fix is **our choice**. The learning rate follows the paper's Eq. 10, `Lr = Lr_i · D^(s/ds)`, with `s` the
# optimizer step (Keras' `ExponentialDecay`). When a frozen part of a pretrained network exists (`frozen`, or
# `finetune` from a later block), its output is computed once per arm and cached; every seed of the arm reuses
# it, and only what trains is repeated. Augmentation (random rotation, shift, zoom and contrast of each training
# image, when the profile's `augment` is on) needs images, so it is unavailable on cached features; the table says
# what this run did. The arithmetic (`precision`): `mixed_bfloat16` computes in bfloat16 and keeps float32 weights
# (about 1.5 times as fast on a CPU with bfloat16 instructions; `benchmarks/precision.py` compares such a run with a
# float32 one).

# %%
settings = models.TrainSettings(
    backbone=backbone, model_input_size=model_input_size, train_mode=train_mode, weights=str(weights), epochs=epochs,
    batch_size=batch_size, learning_rate=learning_rate, lr_decay_rate=lr_decay_rate, lr_decay_steps=lr_decay_steps,
    dropout=dropout, finetune_from_block=finetune_from_block, augment=augment, feature_cache=feature_cache,
    precision=precision, seed=seeds[0])
run.display(models.settings_table(settings), models.seeds_sentence(seeds, models.device_name()))

# %% [markdown]
# ## 3. Training
#
# Each arm reads its own images; after each epoch the validation loss, accuracy and ROC AUC are computed and the
# weights of the epoch with the best validation AUC are kept. A rerun resumes from the checkpoints in `work_dir`.

# %%
results, wall = models.train_arms(table, study_arms, settings, seeds=seeds, work_dir=work_dir)
summary = models.training_table(results)
run.display(summary, models.wall_sentence(wall))

# %% [markdown]
# ## 4. Accuracy and loss curves
#
# Train and validation per epoch, one row per arm and one line per seed (the training loss is class-weighted; the
# validation loss uses the same weights so the two compare). Dotted lines mark the epochs kept. Each column has one
# y-range for every arm, so a gap between arms, or between training and validation, reads the same in every row.

# %%
run.show(models.plot_training_curves(results), "curves",
         "Loss, accuracy and validation ROC AUC per epoch, one row per arm and one line per seed, each column on one "
         "y-range for every arm; dotted lines mark the epochs kept. Training far below validation loss, or "
         "validation falling while training improves, would be overfitting.")

# %% [markdown]
# ## 5. Operating points
#
# All chosen on validation only, and applied unchanged to the test split in step 04: a fixed **0.5**; the
# threshold that maximises **Youden's J** (sensitivity + specificity − 1), midway between the two validation scores
# it separates; and the highest threshold that keeps validation **sensitivity ≥ 0.95** (a screening setting).

# %%
run.show(models.plot_validation_scores(models.first_seed_results(results)), "validation_scores",
         "The first seed's validation scores per class, with the thresholds of the three operating points: where "
         "the classes barely overlap, very different thresholds classify validation equally well.")

# %% [markdown]
# ## 6. Saved outputs

# %%
paths = models.save_training_outputs(results, run.dir, run.models_dir)
run.display(models.outputs_sentence(paths, results))

# %% [markdown]
# ## Conclusion

# %%
run.display(models.training_conclusion(summary, results, arms=study_arms, seeds=seeds, device=models.device_name(),
                                       synthetic=run.is_synthetic))
