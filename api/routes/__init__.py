"""One router per audience; ``cases`` holds what every audience of a case shares."""
