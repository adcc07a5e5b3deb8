"""Operations: crisis responses, their numbers, teams, active sectors and triage config."""
