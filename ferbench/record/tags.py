"""Names of the MLflow tags ferbench sets and reads: every `ferbench.*` tag, the `source` tag, and
the `mlflow.*` tags ferbench sets itself. Tag values are text; "true"/"false" for flags."""

TAG_PREFIX = "ferbench."
TAG_SOURCE = "source"  # "ferbench" on our runs, "published" on baseline runs
TAG_KIND = "ferbench.kind"  # run, fold, seeds, grid, grid_cell, study, trial, ...

# --- a training run (record.common_tags) ---------------------------------------------------------
TAG_FAMILY = "ferbench.family"
TAG_PAPER = "ferbench.paper"
TAG_DATASET = "ferbench.dataset"
TAG_DATASET_VARIANT = "ferbench.dataset_variant"
TAG_FINGERPRINT = "ferbench.fingerprint"
TAG_N_IMAGES = "ferbench.n_images"
TAG_SPLIT_SIZES = "ferbench.split_sizes"  # JSON {"train": n, "val": n, "test": n}, or {"all": n}
TAG_CLASSES = "ferbench.classes"  # class names, comma-joined
TAG_PROTOCOL = "ferbench.protocol"
TAG_SEED = "ferbench.seed"
TAG_VERSION = "ferbench.version"
TAG_GIT_COMMIT = "ferbench.git_commit"
TAG_DEVICE = "ferbench.device"  # what trained the run: "CPU", or the GPU's name
TAG_WEIGHTS = "ferbench.weights"  # imagenet, none, n/a or file:<name>
TAG_RANDOM_WEIGHTS = "ferbench.random_weights"
TAG_SYNTHETIC = "ferbench.synthetic"
TAG_TUNED = "ferbench.tuned"
TAG_SELECTED_ON = "ferbench.selected_on"  # which rows chose the model: val, test or none
TAG_TTA = "ferbench.tta"  # "true": test-time augmentation (flip averaging) made the test predictions
TAG_CONTEMPT = "ferbench.contempt"  # CK+: what the reader did with contempt
TAG_DATA_PATH = "ferbench.data_path"  # where the data set was read from
TAG_DATA_OPTIONS = "ferbench.data_options"  # the reader's options, JSON
TAG_RESUMES = "ferbench.resumes"  # how often the run was resumed

# --- folds and seeds -----------------------------------------------------------------------------
TAG_FOLD = "ferbench.fold"  # a fold run's fold
TAG_MODEL_FOLD = "ferbench.model_fold"  # the fold whose model a multi-fold run logged
TAG_SEEDS = "ferbench.seeds"  # a seeds parent run's seeds, comma-joined
TAG_BENCH_BUDGET = "ferbench.bench_budget"
TAG_TIME_BUDGET = "ferbench.time_budget_min"  # a time-to-accuracy run's budget in minutes

# --- grids and studies ---------------------------------------------------------------------------
TAG_GRID_SKIPPED = "ferbench.grid_skipped"
TAG_GRID_SELECTED = "ferbench.grid_selected"
TAG_STUDY = "ferbench.study"
TAG_TRIAL_NUMBER = "ferbench.trial_number"
TAG_OPTUNA_TRIAL_ID = "ferbench.optuna_trial_id"
TAG_RETRY_OF = "ferbench.retry_of"  # the failed trial this one retries
TAG_TRIAL_STATE = "ferbench.trial_state"  # COMPLETE, PRUNED or FAIL
TAG_FINAL_RUN_ID = "ferbench.final_run_id"  # on a study's parent: its best trial's final run
TAG_RESUMED_PREFIX = "ferbench.resumed."  # + setting: a study resumed with other settings

# --- leaderboard, reproductions, analyses --------------------------------------------------------
TAG_FILTER_PREFIX = "ferbench.filter."  # + dataset / protocol / family: a leaderboard run's filter
TAG_REPRODUCTION = "ferbench.reproduction"
TAG_REPRODUCTION_ROW = "ferbench.reproduction_row"
TAG_ANALYSIS = "ferbench.analysis"
TAG_ANALYSIS_RUN = "ferbench.analysis_run"

# --- published baselines (ferbench.baselines.sync) -----------------------------------------------
TAG_TTA = "ferbench.tta"
TAG_EXTRA_DATA = "ferbench.extra_data"
TAG_PUBLISHED_SOURCE = "ferbench.published_source"
TAG_BASELINE_IDS = "ferbench.baseline_ids"
TAG_REFERENCE_ONLY = "ferbench.reference_only"
TAG_BASELINE_KEY = "ferbench.baseline_key"
TAG_BASELINE_DIGEST = "ferbench.baseline_digest"

# --- MLflow's own -------------------------------------------------------------------------------
# The source tags (mlflow.source.name / .type / .git.commit, record.source_tags) and the dataset
# input's context (mlflow.data.context) are set through mlflow.utils.mlflow_tags' constants.
MLFLOW_PARENT_RUN_ID = "mlflow.parentRunId"
MLFLOW_NOTE = "mlflow.note.content"
MLFLOW_EXPERIMENT_KIND = "mlflow.experimentKind"  # an experiment tag: which landing page MLflow 3's UI opens
MODEL_TRAINING = "custom_model_development"  # its value for ferbench's experiments
MLFLOW_RUN_NAME = "mlflow.runName"  # setting this tag renames the run
