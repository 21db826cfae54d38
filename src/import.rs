//! Live destination flows → manifest documents (`destctl import`).
