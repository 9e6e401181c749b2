"""``keras-siamese search MODEL CORPUS.txt "query"``: the corpus lines nearest to a query."""

import argparse

from keras_siamese.cli.common import (
    add_batch_size_argument,
    add_model_argument,
    input_file,
    load_encoder,
    positive_int,
    read_lines,
)


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "search",
        help="semantic search over a text file",
        description="Prints, for each query, the corpus lines of highest cosine similarity.",
    )
    add_model_argument(parser)
    parser.add_argument("corpus", type=input_file, help="text file, UTF-8, one document per line")
    parser.add_argument("query", nargs="+", help="one or more queries")
    parser.add_argument("--top-k", type=positive_int, default=5, help="hits per query")
    add_batch_size_argument(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> None:
    from keras_siamese.search import semantic_search

    corpus = read_lines(args.corpus)
    encoder = load_encoder(args.model)
    corpus_embeddings = encoder.encode(corpus, batch_size=args.batch_size)
    hits = semantic_search(encoder.encode(args.query), corpus_embeddings, top_k=args.top_k)
    for query, query_hits in zip(args.query, hits, strict=True):
        print(f"query: {query}")
        for rank, hit in enumerate(query_hits, 1):
            print(f"  {rank}. {hit['score']:.4f}  {corpus[hit['corpus_id']]}")
