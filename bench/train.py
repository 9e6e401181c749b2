"""Training quality and speed: keras-siamese against sentence-transformers, same recipe, same run.

Both start from all-MiniLM-L6-v2 and train with the same loss, batch size, epochs, learning rate,
warm-up, weight decay and seed; the runs alternate between the libraries.

    python bench/train.py --recipe sts  [--losses cosent cosine] [--seeds 42 43 44]
    python bench/train.py --recipe sick [--losses contrastive triplet mnrl] [--seeds 42]

sts: STSb train, reports STSb dev Spearman (cosine, x100). sick: SICK TRAIN as in examples/,
reports SICK TRIAL relatedness Spearman and entailment-vs-contradiction accuracy, before and after.
Training pairs per second = training examples x epochs / wall time of the fit.
"""

import argparse
import statistics
import tempfile
import time

from common import data_argument

import keras_siamese as ks
from keras_siamese.encoders import resolve_model_path
from keras_siamese.training.recipes import development_evaluators, load_training_examples

RECIPES = {
    "sts": {"train": ("stsb", "sts-train.csv"), "losses": ("cosent", "cosine")},
    "sick": {
        "train": ("sick", "SICK_train_trial.txt"),
        "losses": ("contrastive", "triplet", "mnrl"),
    },
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
    }[name]()


def train_reference(folder, examples, config: ks.TrainingConfig):
    """sentence-transformers' trainer on the same examples and settings; returns (model, s)."""
    from datasets import Dataset
    from sentence_transformers import (
        SentenceTransformer,
        SentenceTransformerTrainer,
        SentenceTransformerTrainingArguments,
    )
    from sentence_transformers.training_args import BatchSamplers

    model = SentenceTransformer(str(folder), device="cpu")
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


def train_ours(folder, examples, config: ks.TrainingConfig):
    encoder = ks.SentenceEncoder.from_pretrained(folder)
    start = time.perf_counter()
    ks.fit(encoder, examples, config, verbose=0)
    return encoder, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    data_argument(parser)
    parser.add_argument("--recipe", choices=RECIPES, default="sts")
    parser.add_argument("--losses", nargs="+")
    parser.add_argument("--seeds", nargs="+", type=int, default=[42, 43, 44])
    parser.add_argument("--model", default=ks.DEFAULT_MODEL)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--lr", type=float, default=2e-5)
    parser.add_argument("--limit", type=int, help="train on the first N examples (smoke runs)")
    args = parser.parse_args()

    recipe = RECIPES[args.recipe]
    folder = resolve_model_path(args.model)
    train_format, train_file = recipe["train"]
    train_path = args.data / ("stsb" if train_format == "stsb" else "sick") / train_file
    if args.recipe == "sts":
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
        examples = load_training_examples(train_path, train_format, loss, seed=42)
        if args.limit:
            examples = examples.select(range(min(args.limit, len(examples))))
        for seed in args.seeds:
            config = ks.TrainingConfig(
                loss=loss,
                epochs=args.epochs,
                batch_size=args.batch_size,
                learning_rate=args.lr,
                seed=seed,
            )
            for library, train in (
                ("keras-siamese", train_ours),
                ("sentence-transformers", train_reference),
            ):
                model, seconds = train(folder, examples, config)
                metrics = evaluate(model)
                rate = len(examples) * args.epochs / seconds
                rows.append((loss, seed, library, rate, metrics))
                print(
                    f"{loss:12} seed {seed} {library:22} {rate:6.1f} pairs/s {metrics}", flush=True
                )

    metric_names = list(base)
    print(
        f"\n{args.recipe}: {len(examples)} examples of the last loss, batch {args.batch_size}, "
        f"{args.epochs} epoch(s), lr {args.lr}"
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
