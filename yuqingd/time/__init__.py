"""Time: the clock (the one place real time is read), durations, schedules and the key-date
calendar. Pure of the store and of rules: everything here is a function of a moment."""
