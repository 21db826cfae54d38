//! Today's destination cards (issue 11 points 1, 2 and 5): the emulator serves and validates
//! the current cloud storage cards ([`emulator`]), manifests of the current and retired cards
//! validate as documented ([`manifests`]), the example repository applies on the current
//! cards and converges ([`repository`]), and the emulator's IMS accepts only listed
//! credentials, with 403 `403025` for a token used with another org ([`ims`]).

mod emulator;
mod ims;
mod manifests;
mod repository;
