"""Training quality and speed: keras-siamese against sentence-transformers, same recipe, same run.

Both start from all-MiniLM-L6-v2 and train with the same loss, batch size, epochs, learning rate,
warm-up, weight decay and seed; the runs alternate between the libraries.

    python bench/train.py --recipe sts  [--losses cosent cosine] [--seeds 42 43 44]
    python bench/train.py --recipe sick [--losses contrastive triplet mnrl] [--seeds 42]
    python bench/train.py --recipe sick-softmax | sick-mined | distill [--seeds 42]
    ... [--no-length-bucketing]  (our batches as sentence-transformers': rows in random order)

sts: STSb train, reports STSb dev Spearman (cosine, x100). sick: SICK TRAIN as in examples/,
reports SICK TRIAL relatedness Spearman and entailment-vs-contradiction accuracy, before and after.
The recipes of examples/ (issue 10), on the same evaluations:
- sick-softmax: SoftmaxLoss (3 NLI classes, (u, v, |u - v|)) on SICK TRAIN;
- sick-mined: MultipleNegativesRankingLoss on SICK TRAIN entailment pairs with one hard negative
  each, mined once by ``ks.mine_hard_negatives`` (as examples/sick_mnrl_mined.py) and given to
  both libraries;
- distill: MSELoss, a student made of blocks 0, 2 and 4 of the model learns the model's own
  embeddings of every STSb train sentence (computed once by ours and given to both), lr 1e-4;
  STSb dev Spearman of the student.
Training pairs per second = training examples x epochs / wall time of the fit.

    python bench/train.py --recipe big-batch [--batch-sizes 64 256 1024] [--steps 3]
                          [--warmup-steps 1] [--mini-batch-size 32] [--losses cached-mnrl]

big-batch: the memory and speed of large in-batch-negative batches. MultipleNegativesRankingLoss
and CachedMultipleNegativesRankingLoss (GradCache, ``--mini-batch-size`` rows embedded at once)
at each batch size, ours (``ks.fit``) and sentence-transformers', on STSb train pairs (text_a the
anchor, text_b the positive; 5,032 pairs whose 10,064 texts are all distinct, drawn in a seeded
order, wrapped around if a run needs more). Each configuration runs in a fresh process:
``--warmup-steps`` steps (tracing, allocation), then ``--steps`` timed ones; pairs/s = batch x
timed steps / their wall time (tokenising included); peak MiB = the process's peak resident memory
(every process imports TensorFlow, as this script imports keras_siamese; torch too for
sentence-transformers), +MiB = peak MiB less the resident memory once the libraries are imported,
before the model is loaded: the model and its training; start s = loading the model and the
first step (Keras traces the step then). Both sides take plain shuffled batches and AdamW at lr
2e-5 (weight decay 0.01, none on biases and LayerNorms) with the gradients clipped at norm 1
(ours under fit's warm-up schedule). sentence-transformers' side is a hand-written torch loop
(``model.preprocess`` of each column, the loss's forward and backward, ``clip_grad_norm_``,
``optimizer.step``), not its trainer: what is timed is the step itself. Its cached loss
back-propagates through the hook its forward registers, as in its trainer.
"""

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time

from common import data_argument, peak_resident_mib

import keras_siamese as ks
from keras_siamese.encoders import resolve_model_path
from keras_siamese.training.recipes import development_evaluators, load_training_examples

SICK = ("sick", "SICK_train_trial.txt")
STSB = ("stsb", "sts-train.csv")
RECIPES = {
    "sts": {"train": STSB, "losses": ("cosent", "cosine")},
    "sick": {"train": SICK, "losses": ("contrastive", "triplet", "mnrl")},
    "sick-softmax": {"train": SICK, "losses": ("softmax",), "loss_options": {"num_labels": 3}},
    "sick-mined": {"train": SICK, "losses": ("mnrl",), "mine": True},
    "distill": {"train": STSB, "losses": ("mse",), "student_layers": (0, 2, 4), "lr": 1e-4},
}


def reference_loss(name: str, model):
    from sentence_transformers import losses

    return {
        "cosent": lambda: losses.CoSENTLoss(model),
        "cosine": lambda: losses.CosineSimilarityLoss(model),
        "contrastive": lambda: losses.ContrastiveLoss(model),
        "online-contrastive": lambda: losses.OnlineContrastiveLoss(model),
        "triplet": lambda: losses.TripletLoss(model),
        "mnrl": lambda: losses.MultipleNegativesRankingLoss(model),
        "mse": lambda: losses.MSELoss(model),
        "softmax": lambda: losses.SoftmaxLoss(
            model, model.get_sentence_embedding_dimension(), num_labels=3
        ),
    }[name]()


def reduced_reference(model, layers) -> None:
    """sentence-transformers' layer-reduction recipe: keep the transformer blocks ``layers``."""
    import torch

    transformer = model[0].auto_model
    blocks = transformer.encoder.layer
    transformer.encoder.layer = torch.nn.ModuleList([blocks[i] for i in layers])
    transformer.config.num_hidden_layers = len(layers)


def train_reference(folder, examples, config: ks.TrainingConfig, student_layers=None):
    """sentence-transformers' trainer on the same examples and settings; returns (model, s)."""
    from datasets import Dataset
    from sentence_transformers import (
        SentenceTransformer,
        SentenceTransformerTrainer,
        SentenceTransformerTrainingArguments,
    )
    from sentence_transformers.training_args import BatchSamplers

    model = SentenceTransformer(str(folder), device="cpu")
    if student_layers:
        reduced_reference(model, student_layers)
    loss = ks.losses.get_loss(config.loss, config.loss_options)
    columns = dict(examples.columns)
    if examples.labels is not None and loss.label_kind != "none":
        columns["label"] = examples.labels.tolist()
    sampler = (
        BatchSamplers.NO_DUPLICATES
        if getattr(loss, "takes_negatives", False)  # in-batch negatives: no duplicates
        else BatchSamplers.BATCH_SAMPLER
    )
    with tempfile.TemporaryDirectory() as output:
        arguments = SentenceTransformerTrainingArguments(
            output_dir=output,
            num_train_epochs=config.epochs,
            per_device_train_batch_size=config.batch_size,
            learning_rate=config.learning_rate,
            warmup_ratio=config.warmup_ratio,
            weight_decay=config.weight_decay,
            max_grad_norm=config.clipnorm,
            seed=config.seed,
            save_strategy="no",
            report_to="none",
            use_cpu=True,
            batch_sampler=sampler,
            disable_tqdm=True,
        )
        trainer = SentenceTransformerTrainer(
            model=model,
            args=arguments,
            train_dataset=Dataset.from_dict(columns),
            loss=reference_loss(config.loss, model),
        )
        start = time.perf_counter()
        trainer.train()
        return model, time.perf_counter() - start


def train_ours(folder, examples, config: ks.TrainingConfig, student_layers=None):
    encoder = ks.SentenceEncoder.from_pretrained(folder)
    if student_layers:
        encoder = ks.encoders.layer_reduced(encoder, student_layers)
    start = time.perf_counter()
    ks.fit(encoder, examples, config, verbose=0)
    return encoder, time.perf_counter() - start


def recipe_examples(recipe: dict, folder, train_path, loss: str, limit: int | None):
    """The training examples of one loss of ``recipe``, the same for both libraries."""
    train_format = recipe["train"][0]
    if recipe.get("student_layers"):  # distillation: the model's embeddings of each sentence
        stsb = ks.data.read_sts(train_path)
        sentences = list(dict.fromkeys(stsb.columns["text_a"] + stsb.columns["text_b"]))
        examples = ks.data.Examples({"text": sentences[:limit]})
        teacher = ks.SentenceEncoder.from_pretrained(folder)
        return ks.data.with_teacher_embeddings(examples, teacher)
    options = recipe.get("loss_options", {})
    examples = load_training_examples(train_path, train_format, loss, seed=42, loss_options=options)
    examples = examples.head(limit)
    if recipe.get("mine"):
        start = time.perf_counter()
        examples = ks.mine_hard_negatives(
            ks.SentenceEncoder.from_pretrained(folder),
            examples,
            num_negatives=1,
            range_min=2,
            range_max=30,
            relative_margin=0.05,
            output_format="n-tuple",
        )
        print(f"mined {len(examples)} triplets in {time.perf_counter() - start:.1f} s", flush=True)
    return examples


BIG_BATCH_RUNS = (  # (library, loss) per batch size, the libraries alternating
    ("keras-siamese", "mnrl"),
    ("sentence-transformers", "mnrl"),
    ("keras-siamese", "cached-mnrl"),
    ("sentence-transformers", "cached-mnrl"),
)


def big_batch_pairs(data, count: int, seed: int = 0):
    """``count`` STSb train pairs (anchor, positive) of distinct texts, in a seeded order."""
    import numpy as np

    sts = ks.data.read_sts(data / "stsb" / "sts-train.csv")
    seen, pairs = set(), []
    for a, b in zip(sts.columns["text_a"], sts.columns["text_b"], strict=True):
        if a != b and a not in seen and b not in seen:
            seen.update((a, b))
            pairs.append((a, b))
    order = np.random.default_rng(seed).permutation(len(pairs))
    return [pairs[order[i % len(pairs)]] for i in range(count)]


def big_batch_ours(folder, pairs, loss, batch, mini_batch_size) -> list[float]:
    """``ks.fit`` on ``pairs``, one step a batch; returns the time at the end of each step."""
    import keras

    encoder = ks.SentenceEncoder.from_pretrained(folder)
    config = ks.TrainingConfig(
        loss=loss,
        loss_options={"mini_batch_size": mini_batch_size} if loss == "cached-mnrl" else None,
        batch_size=batch,
        batch_sampler="batch_sampler",
        length_bucketing=False,  # rows in random order, as the reference loop's
        seed=42,
    )
    examples = ks.data.from_lists(anchor=[a for a, _ in pairs], positive=[b for _, b in pairs])
    ends = []
    clock = keras.callbacks.LambdaCallback(
        on_train_batch_end=lambda *_, **__: ends.append(time.perf_counter())
    )
    ks.fit(encoder, examples, config, [clock], verbose=0)
    return ends


def big_batch_reference(folder, pairs, loss, batch, mini_batch_size) -> list[float]:
    """sentence-transformers' loss in a plain torch loop; the time at the end of each step."""
    import torch
    from sentence_transformers import SentenceTransformer, losses

    torch.manual_seed(42)
    model = SentenceTransformer(str(folder), device="cpu")
    model.train()
    if loss == "cached-mnrl":
        criterion = losses.CachedMultipleNegativesRankingLoss(
            model, mini_batch_size=mini_batch_size
        )
    else:
        criterion = losses.MultipleNegativesRankingLoss(model)
    named = list(model.named_parameters())
    plain = [p for n, p in named if n.endswith("bias") or "LayerNorm" in n]  # no weight decay
    decay = [p for n, p in named if not (n.endswith("bias") or "LayerNorm" in n)]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": 0.01}, {"params": plain, "weight_decay": 0.0}], lr=2e-5
    )
    ends = []
    for start in range(0, len(pairs), batch):
        rows = pairs[start : start + batch]
        features = [model.preprocess([row[i] for row in rows]) for i in (0, 1)]
        value = criterion(features, None)
        value.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad()
        ends.append(time.perf_counter())
    return ends


def big_batch_one(args: argparse.Namespace, library: str, loss: str, batch: int) -> dict:
    """One configuration, in this (fresh) process: pairs/s and peak resident MiB."""
    folder = resolve_model_path(args.model)
    steps = args.warmup_steps + args.steps
    pairs = big_batch_pairs(args.data, batch * steps)
    if library == "sentence-transformers":
        import sentence_transformers  # noqa: F401  (torch: its import is not the training's)
    before = peak_resident_mib()  # libraries imported
    train = big_batch_ours if library == "keras-siamese" else big_batch_reference
    start = time.perf_counter()
    ends = train(folder, pairs, loss, batch, args.mini_batch_size)
    assert len(ends) == steps, (len(ends), steps)
    timed_from = ends[args.warmup_steps - 1] if args.warmup_steps else start
    return {
        "pairs_per_s": batch * args.steps / (ends[-1] - timed_from),
        "start_s": ends[0] - start,  # loading the model, the first step (tracing)
        "peak_mib": peak_resident_mib(),
        "before_mib": before,
    }


def big_batch(args: argparse.Namespace) -> None:
    """The big-batch recipe: every configuration in a fresh process, then the table."""
    rows = []
    for batch in args.batch_sizes:
        for library, loss in BIG_BATCH_RUNS:
            if args.losses and loss not in args.losses:
                continue
            command = [sys.executable, __file__, "--recipe", "big-batch", "--data", str(args.data)]
            command += ["--model", args.model, "--steps", str(args.steps)]
            command += ["--warmup-steps", str(args.warmup_steps)]
            command += ["--mini-batch-size", str(args.mini_batch_size)]
            command += ["--only-run", library, loss, str(batch)]
            done = subprocess.run(command, capture_output=True, text=True)
            if done.returncode != 0:
                print(f"{library} {loss} batch {batch} failed:\n{done.stderr[-3000:]}", flush=True)
                continue
            result = json.loads(done.stdout.strip().splitlines()[-1])
            rows.append((batch, library, loss, result))
            print(f"batch {batch:5} {library:22} {loss:12} {result}", flush=True)
    print(
        f"\nbig-batch: STSb train pairs, {args.warmup_steps} warm-up + {args.steps} timed steps, "
        f"cached-mnrl mini-batch {args.mini_batch_size}, model {args.model}"
    )
    print(
        f"{'batch':>6} {'loss':12} {'library':22} {'pairs/s':>8} {'peak MiB':>9} "
        f"{'+MiB':>6} {'start s':>8}"
    )
    for batch, library, loss, r in rows:
        print(
            f"{batch:6} {loss:12} {library:22} {r['pairs_per_s']:8.1f} {r['peak_mib']:9.0f} "
            f"{r['peak_mib'] - r['before_mib']:6.0f} {r['start_s']:8.1f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    data_argument(parser)
    parser.add_argument("--recipe", choices=[*RECIPES, "big-batch"], default="sts")
    parser.add_argument("--losses", nargs="+")
    parser.add_argument("--seeds", nargs="+", type=int, default=[42, 43, 44])
    parser.add_argument("--model", default=ks.DEFAULT_MODEL)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--lr", type=float, default=2e-5)
    parser.add_argument("--limit", type=int, help="train on the first N examples (smoke runs)")
    parser.add_argument(
        "--length-bucketing",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="our batches length-bucketed (TrainingConfig's default)",
    )
    big = parser.add_argument_group("big-batch")
    big.add_argument("--batch-sizes", nargs="+", type=int, default=[64, 256, 1024])
    big.add_argument("--steps", type=int, default=3, help="timed steps per configuration")
    big.add_argument("--warmup-steps", type=int, default=1, help="untimed steps before them")
    big.add_argument("--mini-batch-size", type=int, default=32, help="of the cached loss")
    big.add_argument("--only-run", nargs=3, help=argparse.SUPPRESS)  # library loss batch
    args = parser.parse_args()
    if args.recipe == "big-batch":
        if args.only_run:  # a child of big_batch: one configuration, its result as JSON
            library, loss, batch = args.only_run
            print(json.dumps(big_batch_one(args, library, loss, int(batch))))
        else:
            big_batch(args)
        return

    recipe = RECIPES[args.recipe]
    folder = resolve_model_path(args.model)
    train_format, train_file = recipe["train"]
    train_path = args.data / train_format / train_file
    if train_format == "stsb":
        evaluators = development_evaluators(args.data / "stsb" / "sts-dev.csv", "stsb")
    else:
        evaluators = development_evaluators(args.data / "sick" / "SICK_train_trial.txt", "sick")

    def evaluate(encoder) -> dict[str, float]:
        return {
            k: v
            for e in evaluators
            for k, v in e.evaluate(encoder).items()
            if k.endswith(("spearman_cosine", "cosine_accuracy"))
        }

    base = evaluate(ks.SentenceEncoder.from_pretrained(folder))
    print(f"before training: {base}", flush=True)
    rows = []
    for loss in args.losses or recipe["losses"]:
        examples = recipe_examples(recipe, folder, train_path, loss, args.limit)
        for seed in args.seeds:
            config = ks.TrainingConfig(
                loss=loss,
                loss_options=recipe.get("loss_options", {}),
                epochs=args.epochs,
                batch_size=args.batch_size,
                learning_rate=recipe.get("lr", args.lr),
                seed=seed,
                length_bucketing=args.length_bucketing,
            )
            for library, train in (
                ("keras-siamese", train_ours),
                ("sentence-transformers", train_reference),
            ):
                model, seconds = train(folder, examples, config, recipe.get("student_layers"))
                metrics = evaluate(model)
                rate = len(examples) * args.epochs / seconds
                rows.append((loss, seed, library, rate, metrics))
                print(
                    f"{loss:12} seed {seed} {library:22} {rate:6.1f} pairs/s {metrics}", flush=True
                )

    metric_names = list(base)
    print(
        f"\n{args.recipe}: {len(examples)} examples of the last loss, batch {args.batch_size}, "
        f"{args.epochs} epoch(s), lr {recipe.get('lr', args.lr)}, "
        f"our length bucketing {'on' if args.length_bucketing else 'off'}"
    )
    header = f"{'loss':12} {'library':22} {'pairs/s':>8} " + " ".join(
        f"{n[-28:]:>28}" for n in metric_names
    )
    print(header)
    print(
        f"{'(pretrained)':12} {'':22} {'':>8} " + " ".join(f"{base[n]:28.4f}" for n in metric_names)
    )
    for loss in dict.fromkeys(r[0] for r in rows):
        for library in ("keras-siamese", "sentence-transformers"):
            runs = [r for r in rows if r[0] == loss and r[2] == library]
            values = " ".join(
                f"{statistics.median(r[4][n] for r in runs):12.4f} "
                f"[{' '.join(f'{r[4][n]:.2f}' for r in runs)}]".rjust(28)
                for n in metric_names
            )
            rate = statistics.median(r[3] for r in runs)
            print(f"{loss:12} {library:22} {rate:8.1f} {values}")
        ours, theirs = (
            [statistics.median(r[3] for r in rows if r[0] == loss and r[2] == lib)]
            for lib in ("keras-siamese", "sentence-transformers")
        )
        print(
            f"{loss:12} speed ratio keras-siamese / sentence-transformers: "
            f"{ours[0] / theirs[0]:.2f}"
        )


if __name__ == "__main__":
    main()
