#!/usr/bin/python3
"""The GPU kit (scripts/gpu/): built from this build tree, unpacked into an empty folder, run there with a
clean environment against the machine's Vulkan driver (lavapipe here), and what it writes checked.

    gpu_kit.py SOURCE_DIR BUILD_DIR

ctest gpu_kit (a fast run: the devices step and one test of the suite; the full lavapipe run,
VKATTN_KIT_PRESET=lavapipe, takes minutes and is checked by hand: scripts/gpu/README.md). Checked:
- the bundle is under 64 MiB and its manifest names the Debian packages and every file it holds;
- with every bundled library (VKATTN_KIT_LIBS=all) ldd resolves everything but glibc from the kit, the
  loader included, and one test of the suite passes with the kit's validation layer switched on;
- by default (VKATTN_KIT_LIBS=auto) the loader is still the kit's, and a library the machine lacks (a
  driver library built here linking one only the kit holds) comes from the kit;
- with a driver library under a stand-in for NVIDIA's mount (lavapipe's, renamed libGLX_nvidia.so.0)
  and no manifest, the kit writes one naming it, and the device is created through it;
- with no driver it fails with a clear message, skips the device steps, and still writes its logs.
The .deb files come from VKATTN_KIT_DEB_DIR (default: BUILD_DIR/gpu-kit/debs, filled once by apt-get
download); without them and without a network the test reports itself skipped (exit 77).
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile

SKIP = 77


def run(cmd, env, **kw):
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300, **kw)


def clean_env(**extra):
    env = {"HOME": os.environ.get("HOME", "/tmp"), "PATH": "/usr/bin:/bin"}
    env.update(extra)
    return env


def check(cond, what, output=""):
    if not cond:
        print("FAIL: " + what)
        if output:
            print(output[-4000:])
        sys.exit(1)
    print("ok: " + what)


def main():
    src, build = sys.argv[1], sys.argv[2]
    work = tempfile.mkdtemp(prefix="vkattn-gpu-kit-test-")
    try:
        bundle = os.path.join(work, "kit.tar.gz")
        env = dict(os.environ, VKATTN_KIT_NO_BUILD="1", VKATTN_KIT_BUILD_DIR=build,
                   VKATTN_KIT_DEB_DIR=os.environ.get("VKATTN_KIT_DEB_DIR", os.path.join(build, "gpu-kit", "debs")))
        p = run([os.path.join(src, "scripts", "gpu", "build_kit.sh"), bundle], env)
        if p.returncode != 0 and "apt-get download" in p.stderr:
            print(p.stdout + p.stderr)
            print("SKIP: the Debian packages are neither in VKATTN_KIT_DEB_DIR nor downloadable here")
            return SKIP
        check(p.returncode == 0, "build_kit.sh wrote the bundle", p.stdout + p.stderr)
        size = os.path.getsize(bundle)
        check(size <= 64 << 20 and "limit 64 MiB" in p.stdout, "the bundle is %.1f MiB, under 64 MiB" % (size / 2**20))

        clean = os.path.join(work, "clean")
        os.mkdir(clean)
        with tarfile.open(bundle) as t:
            t.extractall(clean)
        kit = os.path.join(clean, "vkattn-gpu-kit")
        with open(os.path.join(kit, "MANIFEST.txt")) as f:
            manifest = f.read()
        for pkg in ("libvulkan1 ", "vulkan-validationlayers ", "libglvnd0 "):
            check(pkg in manifest, "the manifest names Debian's " + pkg.strip())
        listed = set(re.findall(r"^ +\d+  [0-9a-f]{16}  vkattn-gpu-kit/(\S+)$", manifest, re.M))
        held = {os.path.relpath(os.path.join(d, n), kit) for d, _, ns in os.walk(kit) for n in ns
                if not os.path.islink(os.path.join(d, n))} - {"MANIFEST.txt"}
        check(held <= listed, "the manifest lists every file of the kit (%d)" % len(held), str(held - listed))
        for f in ("run.sh", "bin/vkattn", "bin/vkattn_tests", "lib/libvulkan.so.1", "lib/libVkLayer_khronos_validation.so",
                  "lib/layers/VkLayer_khronos_validation.json", "deps/libGLdispatch.so.0", "bench/compare_torch.py"):
            check(os.path.exists(os.path.join(kit, f)), "the kit holds " + f)

        # Every bundled library, the device listed, one test of the suite with the kit's validation layer.
        out = os.path.join(work, "out-all")
        p = run([os.path.join(kit, "run.sh"), out],
                clean_env(VKATTN_KIT_LIBS="all", VKATTN_KIT_DEVICE="cpu", VKATTN_KIT_STEPS="devices tests",
                          VKATTN_KIT_TEST_FILTER="SubgroupSize.TheProbeReportsTheDefaultSizeWithoutForcing"), cwd=work)
        check(p.returncode == 0, "run.sh (VKATTN_KIT_LIBS=all) passed its steps", p.stdout + p.stderr)
        with open(os.path.join(out, "summary.json")) as f:
            summary = json.load(f)
        steps = {s["step"]: s for s in summary["steps"]}
        check(steps["devices"]["status"] == "ok" and steps["tests"]["status"] == "ok" and steps["tests"]["passed"] == 1,
              "devices and one test passed (summary.json)", json.dumps(summary))
        with open(os.path.join(out, "tests.json")) as f:
            tests = json.load(f)
        check(tests["tests"] == 1 and tests["failures"] == 0, "tests.json: 1 test, 0 failures")
        with open(os.path.join(out, "ldd.txt")) as f:
            ldd = f.read()
        outside = sorted({m.group(1) for m in re.finditer(r"^\s+(\S+) => (\S+)", ldd, re.M) if not m.group(2).startswith(kit)})
        check(set(outside) <= {"libc.so.6", "libm.so.6"}, "ldd resolves all but glibc from the kit", ", ".join(outside))
        check(re.search(r"libvulkan\.so\.1 => %s/lib/libvulkan\.so\.1 " % re.escape(kit), ldd) is not None,
              "the loader is the kit's", ldd)
        with open(os.path.join(out, "devices.log")) as f:
            check("* [0]" in f.read(), "devices.log lists the device vkattn selects")

        # Default library mode, and NVIDIA's driver library found under its mount without a manifest.
        fake = os.path.join(work, "nvidia")
        os.makedirs(os.path.join(fake, "lib64"))
        lvp = "/usr/lib/x86_64-linux-gnu/libvulkan_lvp.so"
        if os.path.exists(lvp):
            shutil.copy(lvp, os.path.join(fake, "lib64", "libGLX_nvidia.so.0"))
            out = os.path.join(work, "out-icd")
            p = run([os.path.join(kit, "run.sh"), out],
                    clean_env(VKATTN_KIT_NVIDIA_ROOT=fake, VKATTN_KIT_STEPS="devices"), cwd=work)
            check(p.returncode == 0 and "wrote" in p.stdout and "nvidia_icd.json" in p.stdout,
                  "a manifest is written for a driver library without one", p.stdout + p.stderr)
            with open(os.path.join(out, "nvidia_icd.json")) as f:
                icd = json.load(f)
            check(icd["ICD"]["library_path"] == os.path.join(fake, "lib64", "libGLX_nvidia.so.0"),
                  "the written manifest names the library found")
            with open(os.path.join(out, "devices.log")) as f:
                log = f.read()
            check("Searching for ICD drivers named " + os.path.join(fake, "lib64", "libGLX_nvidia.so.0") in log and "* [0]" in log,
                  "the loader used it and a device was created", log[-3000:])
            with open(os.path.join(out, "ldd.txt")) as f:
                check(re.search(r"libvulkan\.so\.1 => %s/lib/" % re.escape(kit), f.read()) is not None,
                      "VKATTN_KIT_LIBS=auto: the loader is the kit's")
        else:
            print("note: no lavapipe library at %s: the written-manifest case is not run" % lvp)

        # VKATTN_KIT_LIBS=auto takes from deps/ what the machine lacks: a driver library that links a library
        # only the kit holds (both built here) gets it through the kit's links, and the loader then loads it.
        cc = shutil.which("cc") or shutil.which("gcc")
        if cc:
            probe = os.path.join(work, "probe")
            os.makedirs(os.path.join(probe, "lib64"))
            with open(os.path.join(probe, "p.c"), "w") as f:
                f.write("int kitprobe(void) { return 1; }\n")
            with open(os.path.join(probe, "n.c"), "w") as f:
                f.write("int kitprobe(void);\nint nv(void) { return kitprobe(); }\n")
            lib = os.path.join(kit, "deps", "libkitprobe.so.1")
            drv = os.path.join(probe, "lib64", "libGLX_nvidia.so.0")
            for what, cmd in (("deps/libkitprobe.so.1", [cc, "-shared", "-fPIC", "-Wl,-soname,libkitprobe.so.1", "-o", lib,
                                                          os.path.join(probe, "p.c")]),
                              ("a stand-in driver linking it", [cc, "-shared", "-fPIC", "-o", drv, os.path.join(probe, "n.c"),
                                                                "-L" + os.path.dirname(lib), "-l:libkitprobe.so.1"])):
                c = run(cmd, dict(os.environ))
                check(c.returncode == 0, "compiled " + what, c.stderr)
            out = os.path.join(work, "out-auto")
            p = run([os.path.join(kit, "run.sh"), out], clean_env(VKATTN_KIT_NVIDIA_ROOT=probe, VKATTN_KIT_STEPS="devices"),
                    cwd=work)
            check("because the system lacks them: libkitprobe.so.1" in p.stdout,
                  "auto: a library the machine lacks comes from the kit", p.stdout + p.stderr)
            with open(os.path.join(out, "ldd.txt")) as f:
                check(re.search(r"libkitprobe\.so\.1 => %s/\.run/lib-links/libkitprobe\.so\.1" % re.escape(kit), f.read()),
                      "ldd resolves it through the kit's links")
            with open(os.path.join(out, "devices.log")) as f:
                log = f.read()
            # not a real driver: the loader opens it (its dependency resolved), finds no entry point, no device
            check("vk_icdGetInstanceProcAddr' from ICD " + drv in log and p.returncode == 1,
                  "the loader opened the driver library with its dependency from the kit", log[-3000:])
        else:
            print("note: no C compiler: the VKATTN_KIT_LIBS=auto case is not run")

        # No driver: a clear failure, the device steps skipped, the logs written.
        out = os.path.join(work, "out-none")
        p = run([os.path.join(kit, "run.sh"), out],
                clean_env(VK_DRIVER_FILES="/nonexistent/icd.json", VK_ICD_FILENAMES="/nonexistent/icd.json",
                          VKATTN_KIT_COMPARE="off"), cwd=work)
        check(p.returncode == 1 and "FAILED: no Vulkan device could be created" in p.stderr,
              "no driver: exit 1 with a clear message", p.stdout + p.stderr)
        with open(os.path.join(out, "summary.txt")) as f:
            text = f.read()
        check(re.search(r"^devices +FAIL", text, re.M) and len(re.findall(r"^(verify|tests|bench) +skipped", text, re.M)) == 3
              and "FAILED: no Vulkan device" in text, "summary.txt: devices FAIL, the device steps skipped", text)
        for f in ("devices.log", "environment.txt", "ldd.txt", "summary.json"):
            check(os.path.getsize(os.path.join(out, f)) > 0, "still written: " + f)
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
