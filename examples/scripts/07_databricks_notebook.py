# Databricks notebook source
# MAGIC %md
# MAGIC # Ask your workspace's Genie spaces with genie-agent
# MAGIC
# MAGIC Import this file into a workspace (Workspace > Import, or `databricks workspace import`): it opens
# MAGIC as a notebook. It installs genie-agent, lists the Genie spaces you can see, and asks them a question
# MAGIC through the agent, which routes it to the right space (or several) and answers from their results.
# MAGIC Genie runs as you: you need CAN RUN on each space and CAN USE on its SQL warehouse.
# MAGIC
# MAGIC genie-agent is installed from its wheel. Build it from the repository and upload it to a volume:
# MAGIC
# MAGIC     pip wheel --no-deps -w dist .
# MAGIC     databricks fs cp dist/genie_agent-0.1.0-py3-none-any.whl dbfs:/Volumes/main/default/wheels/
# MAGIC
# MAGIC and change the path below if yours differs.

# COMMAND ----------

# MAGIC %pip install "/Volumes/main/default/wheels/genie_agent-0.1.0-py3-none-any.whl[databricks]"

# COMMAND ----------

dbutils.library.restartPython()  # load what %pip installed

# COMMAND ----------

# MAGIC %md
# MAGIC ## The Genie spaces you can see
# MAGIC
# MAGIC Each becomes a domain of the agent. The router has no model of a remote space: it routes on each
# MAGIC space's description and keywords (the measures it answers), so give the spaces you use keywords.

# COMMAND ----------

# ruff: noqa: E402, B018, F821 - notebook cells: imports after %pip, a cell's last value is shown, dbutils
import re

from databricks.sdk import WorkspaceClient

import genie_agent

workspace = WorkspaceClient()  # the notebook's own credentials
spaces = []
page_token = None
while True:
    page = workspace.genie.list_spaces(page_token=page_token)
    spaces += page.spaces or []
    page_token = page.next_page_token
    if not page_token:
        break

# Domain (the space's title in lower case) -> what the space measures: questions naming these go there.
# These are the TPC-H example's spaces; write your own spaces' (the words of a title are the default).
KEYWORDS = {
    "sales": ["revenue", "orders", "discount"],
    "supply": ["suppliers", "supply cost", "inventory value"],
    "customers": ["customers", "account balance"],
}

genie_spaces = {}
for space in spaces:
    domain = re.sub(r"[^a-z0-9]+", "_", (space.title or space.space_id).lower()).strip("_")
    genie_spaces[domain] = {
        "space_id": space.space_id,
        "title": space.title or domain,
        "description": space.description or "",
        "keywords": KEYWORDS.get(domain, domain.split("_")),
    }
    print(f"{domain}: {space.title} ({space.space_id}) {space.description or ''}")
if not genie_spaces:
    raise RuntimeError("You can see no Genie space on this workspace: ask for CAN RUN on one.")

# COMMAND ----------

settings = genie_agent.load_settings(genie_backend="databricks", genie_spaces=genie_spaces)
client = genie_agent.connect("local", settings=settings, user=workspace.current_user.me().user_name)

# COMMAND ----------

QUESTION = "What was revenue by region in 1995, and how many suppliers does each region have?"  # edit me

result = client.ask(QUESTION)
result  # the answer, its chart hint, each space's table and SQL

# COMMAND ----------

# Every space's table (and the joined one) as a DataFrame; display() shows it with charting.
for name, frame in result.dataframes().items():
    print(name)
    display(frame)

# COMMAND ----------

# A follow-up continues the thread, in each Genie space's conversation too.
follow_up = client.ask("and by nation?")
follow_up
