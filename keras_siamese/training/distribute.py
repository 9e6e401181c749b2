"""``tf.distribute`` strategies by name, for ``fit(..., strategy=...)`` and ``train --distribute``.

- ``"mirrored"``: ``tf.distribute.MirroredStrategy``, every GPU of this machine (the CPU if none);
- ``"multi-worker"``: ``tf.distribute.MultiWorkerMirroredStrategy``, one process per machine,
  the cluster and this process's task read from the standard ``TF_CONFIG`` environment variable
  (``{"cluster": {"worker": ["host:port", ...]}, "task": {"type": "worker", "index": i}}``); it
  must be made at the program's start, before TensorFlow runs any op;
- TPUs: ``tf.distribute.TPUStrategy(tf.distribute.cluster_resolver.TPUClusterResolver(...))``,
  passed to ``fit`` as any other strategy (not tested here: no TPU).
"""

DISTRIBUTE = ("mirrored", "multi-worker")


def make_strategy(name: str):
    """The strategy named ``name`` (one of ``DISTRIBUTE``)."""
    import tensorflow as tf

    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi-worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise ValueError(f"distribute must be one of {', '.join(DISTRIBUTE)}, got {name!r}")
