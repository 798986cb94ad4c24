/// \file
/// Contracts on internal preconditions, on top of GSL.
///
/// A violated `Expects` calls a non-constexpr function, so inside constant evaluation it is
/// a compile error that points at the contract; the proofs rely on that. At run time it
/// terminates. Bad *input* is never a contract violation: it is an `error` value.
#pragma once

#include <gsl/assert>

#define BALANCEKIT_EXPECTS(cond) Expects(cond)
