"""Runs every ```python block of docs/python.md against the module in the build tree, each in a fresh
namespace, so that the documentation's examples cannot drift from what the module does. A block that
raises fails the test, naming the block by its first line in the file."""
import os
import re
import unittest

DOC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "docs", "python.md")


def python_blocks(path):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    for m in re.finditer(r"^```python\n(.*?)^```", text, flags=re.S | re.M):
        yield text.count("\n", 0, m.start()) + 1, m.group(1)


class DocExamples(unittest.TestCase):
    def test_every_python_block_runs(self):
        blocks = list(python_blocks(DOC))
        self.assertGreater(len(blocks), 0, "docs/python.md has no ```python block")
        for line, code in blocks:
            with self.subTest(block=f"docs/python.md:{line}"):
                exec(compile(code, f"docs/python.md:{line}", "exec"), {"__name__": "__doc_example__"})


if __name__ == "__main__":
    unittest.main()
