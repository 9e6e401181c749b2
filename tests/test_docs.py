"""The documentation follows the code: tables generated from registries stay equal to them."""

import re

from conftest import REPO
from keras_siamese.losses import LOSSES, loss_table


def test_losses_doc_table_is_the_registry():
    doc = (REPO / "docs" / "losses.md").read_text()
    table = re.search(r"<!-- loss-table:start -->\n(.*?)\n<!-- loss-table:end -->", doc, re.S)
    assert table is not None, "docs/losses.md lost its loss-table markers"
    assert table.group(1) == loss_table(), "regenerate it: keras-siamese losses"
    for name, cls in LOSSES.items():
        assert f"`{name}`" in table.group(1) and f"`{cls.__name__}`" in table.group(1)


def test_readme_uses_the_top_level_api():
    readme = (REPO / "README.md").read_text()
    assert "import keras_siamese as ks" in readme
    for old in ("from keras_siamese.encoders import", "from keras_siamese.training import"):
        assert old not in readme, old
