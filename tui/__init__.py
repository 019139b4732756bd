"""The genie-agent terminal chat (Textual): ``genie-agent chat`` opens :class:`~genie_agent_tui.app.GenieChatApp`."""
