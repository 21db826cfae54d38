//! Issue 9, point 4: `destctl import` (filled below).
