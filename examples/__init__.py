"""Example spaces, semantic models and question sets shipped with genie-agent (``genie_agent_examples``)."""
