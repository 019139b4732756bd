"""A cross-domain question into pandas DataFrames, and the chart the agent suggests as a PNG.

    python examples/scripts/03_dataframes_and_chart.py

Each space's table converts to a DataFrame typed by its column types, and so does the table joining
them. The chart is drawn with matplotlib when it is installed (else this says so and skips it) into
genie-agent-examples/ under the temp directory.
"""

import tempfile
from pathlib import Path

import genie_agent

QUESTION = "What was revenue by region in 1995, and how many suppliers does each region have?"

with genie_agent.connect() as client:
    result = client.ask(QUESTION)

print(f"Q: {QUESTION}\n")
for name, frame in result.dataframes().items():  # every space's table; "combined" is the joined one
    types = ", ".join(f"{column}: {dtype}" for column, dtype in frame.dtypes.items())
    print(f"{name} ({len(frame)} rows; {types})")
    print(frame.to_string(index=False, float_format="{:,.2f}".format), end="\n\n")

table = result.to_pandas()  # the primary table: here the joined one
hint = result.visualization_hint
if hint is None or hint.type not in ("bar", "line") or not hint.x or not hint.y:
    print("The agent suggests no bar or line chart for this answer.")
    raise SystemExit(0)
x, y = hint.x, hint.y
print(f"Suggested chart: {hint.type} of {y!r} by {x!r} ({hint.reason})")

try:
    import matplotlib

    matplotlib.use("Agg")  # draw to a file, no window
    import matplotlib.pyplot as plt
except ImportError:
    print("matplotlib is not installed, so no chart is drawn (pip install matplotlib to draw it).")
    raise SystemExit(0) from None

if hint.sort in ("asc", "desc"):
    table = table.sort_values(y, ascending=hint.sort == "asc")
labels = table[x].astype(str)
figure, axes = plt.subplots(figsize=(8, 4.5))
if hint.type == "bar":
    axes.bar(labels, table[y], color="tab:blue")
else:
    axes.plot(labels, table[y], color="tab:blue", marker="o")
axes.set_xlabel(x)
axes.set_ylabel(y, color="tab:blue")
if hint.format == "currency":
    axes.yaxis.set_major_formatter(lambda value, _: f"{value / 1e6:,.0f}M")
# The joined table's other measures (here: suppliers, from the other space) on a second axis.
for column in [c for c in table.columns if c not in (x, y) and table[c].dtype.kind in "iuf"][:1]:
    other = axes.twinx()
    other.plot(labels, table[column].astype(float), color="tab:orange", marker="o")
    other.set_ylabel(column, color="tab:orange")
axes.set_title(QUESTION, fontsize=10)
figure.tight_layout()
out = Path(tempfile.gettempdir()) / "genie-agent-examples"
out.mkdir(exist_ok=True)
png = out / "revenue_and_suppliers_by_region.png"
figure.savefig(png, dpi=100)
print(f"Chart saved: {png}")
