"""Cases: one contact's feedback on one topic, routed to a team until it is closed."""
