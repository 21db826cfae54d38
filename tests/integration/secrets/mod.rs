//! Secret hygiene: tampered saved plans are refused before any request, and a canary secret
//! appears in no output, log or plan file of any command, even against a server that echoes
//! every request into its error answers.

mod canary;
mod tampered;
