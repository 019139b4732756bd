"""Reading what people write: questions, statements and references, from the spaces' vocabulary.

- :mod:`.lexicon` — tokens, stems and phrase matching (shared with the local engine and the memory store).
- :mod:`.vocabulary` — what the spaces know (their info and routing terms), gathered once for both
  the router and the preference extractor.
- :mod:`.write_intent` — requests to change data, refused before any space sees them.
- :mod:`.routing` — which space(s) a question goes to; :mod:`.clauses` splits a question that spans
  spaces into its parts and what is said once for all of them.
- :mod:`.references` — "those nations": a follow-up naming the previous answer's members.
- :mod:`.preferences` — what a preference is; :mod:`.extraction` finds them in a message, with
  :mod:`.sentences` (statement or data question), :mod:`.display_statements` (charts, number
  scales) and :mod:`.filter_statements` (values to keep); :mod:`.llm_extraction` adds what an LLM
  finds.

Nothing is imported here: the local engine imports :mod:`.lexicon` alone.
"""
