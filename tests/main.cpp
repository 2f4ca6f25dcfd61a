// The test executable's entry point. Every TEST_CASE lives in a TEST_SUITE whose name is
// its CTest label: unit, gradcheck, reference, cuda, docs, slow.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>
