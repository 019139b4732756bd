"""The served agent (``genie_agent_model``): ``agent.py`` is the models-from-code file MLflow logs."""
