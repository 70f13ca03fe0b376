"""Peak memory is the run's own, not the memory of the process that started it."""

import subprocess
import sys

import pytest


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="VmHWM is Linux's")
def test_peak_memory_of_a_child_is_not_its_parents():
    ballast = b"\x01" * (300 * 2**20)  # the parent holds 300 MiB, written (a benchmark script that imported torch)
    code = "from latent_atlas.engine.device import resident_peak_mb; print(resident_peak_mb())"
    child_mb = float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
    assert len(ballast) and child_mb < 290, child_mb  # ru_maxrss would report >= 300 here


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc_trim, VmRSS")
def test_release_free_memory_returns_the_heap_that_loading_scenes_fragments():
    """Image-sized buffers freed between small objects that stay (what loading scenes one by one leaves) are still
    resident until release_free_memory; run in a child so that the heap is this test's alone."""
    code = """if True:
        import numpy as np
        from latent_atlas.engine.device import release_free_memory

        def rss():
            return next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmRSS")) / 1024

        kept, images = [], []
        for i in range(3000):  # 3000 x 64 KiB images, each followed by a small object that stays
            images.append(np.full(16384, i, dtype=np.float32))
            kept.append(np.zeros(8))
        images.clear()
        before = rss()
        release_free_memory()
        print(before - rss())
    """
    released = float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
    assert released > 100, released  # of the 187 MiB the images took


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="VmRSS is Linux's")
def test_live_memory_is_resident_memory_without_the_peak_of_what_was_freed():
    import torch

    from latent_atlas.engine.device import live_memory_mb, resident_peak_mb

    held = torch.ones(64 * 2**20 // 4)  # 64 MiB, written
    with_it = live_memory_mb(torch.device("cpu"))
    del held
    without_it = live_memory_mb(torch.device("cpu"))
    assert 60 < with_it - without_it < 68, (with_it, without_it)
    assert without_it < resident_peak_mb() - 60  # the peak still counts the freed 64 MiB


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
@pytest.mark.parametrize("tuned", [True, False])
def test_tuned_allocator_reuses_freed_step_memory_instead_of_faulting_it_in(tuned):
    """200 'steps' that each allocate, write and free 40 MiB of 2-MiB tensors: with tune_allocator the pages are
    reused (a few thousand page faults in all), without it glibc maps and returns them (10 240 faults per step)."""
    code = """if True:
        import resource, sys
        import torch
        from latent_atlas.engine.device import tune_allocator

        assert tune_allocator() == (sys.argv[1] == "1")
        torch.set_num_threads(1)
        def step():
            held = [torch.ones(512 * 1024) for _ in range(20)]  # 20 x 2 MiB, written
            return sum(float(t[0]) for t in held)
        step()
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        for _ in range(200):
            step()
        print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 200)
    """
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith("MALLOC_")}
    env["LATLAS_TUNE_MALLOC"] = "1" if tuned else "0"
    if not tuned:  # glibc's default mmap threshold held at its start value: its adaptive raise settles on reuse in some
        env["MALLOC_MMAP_THRESHOLD_"] = "131072"  # runs and not in others, so the baseline would be luck (session 57)
    proc = subprocess.run([sys.executable, "-c", code, "1" if tuned else "0"], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    faults_per_step = float(proc.stdout)
    if tuned:
        assert faults_per_step < 100, faults_per_step
    else:  # the baseline the tuning removes: every 2-MiB tensor mapped and returned, 512 pages each
        assert faults_per_step > 5000, faults_per_step
