#pragma once
// Process-level settings that must be in place before libraries initialise.

namespace n2v {

// LibTorch and OpenBLAS run many short parallel regions; with libgomp's default ACTIVE wait
// policy their idle threads spin between regions and fight each other (and any other load)
// for the cores: on 2 cores, training ran 3-20x slower (docs/PERFORMANCE.md). libgomp reads
// OMP_WAIT_POLICY once, when it is loaded, so a program that wants PASSIVE must set it and
// re-execute itself. Call first thing in main; does nothing if the variable is already set
// (the user's choice wins) or if re-execution fails.
void reexec_with_passive_openmp(char** argv);

}  // namespace n2v
