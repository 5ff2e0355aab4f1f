#!/usr/bin/env python3
"""Generates the shim's driver entry points from the toolkit's own headers.

cuda.h (with cudaProfiler.h) is preprocessed three ways -- plain, with
per-thread default streams (the _ptds/_ptsz names) and with the driver's
internal view (the legacy, unversioned ABI) -- and every `CUresult cu*(...)`
declaration becomes one exported wrapper that forwards to the real driver and,
when tracing, logs its arguments, result and duration. The generated file
includes cuda.h, so the compiler checks every wrapper against the toolkit's
prototype. A hand-kept list would drift from the toolkit; this cannot.

Driver symbols without a prototype the compiler can see -- those of the
interop headers (cudaGL.h, cudaVDPAU.h, cudaEGL.h, which need GL/EGL/VDPAU
headers), or any that the toolkit's stub libcuda.so exports beyond the
headers -- become tail-jump trampolines: exported and forwarded at native
speed, but not traced.

Usage: gen_entrypoints.py CC CUDA_INCLUDE_DIR OUT_C OUT_H [STUB_LIBCUDA]
"""
import os
import re
import subprocess
import sys

# Entry points the shim implements by hand (procaddress.c, remote.c).
BY_HAND = {"cuGetProcAddress", "cuGetProcAddress_v2", "cuGetExportTable", "cuInit"}

MODES = [[], ["-DCUDA_API_PER_THREAD_DEFAULT_STREAM"], ["-D__CUDA_API_VERSION_INTERNAL"]]

INTEGER_SIGNED = {"int", "long", "long long", "short", "signed char", "char", "int64_t", "int32_t"}
INTEGER_UNSIGNED = {"unsigned int", "unsigned", "unsigned long", "unsigned long long", "unsigned short",
                    "unsigned char", "size_t", "uint32_t", "uint64_t", "uint16_t", "uint8_t"}
FLOATING = {"float", "double"}


def preprocess(cc, inc, flags):
    src = "#include <cuda.h>\n#include <cudaProfiler.h>\n"
    out = subprocess.run([cc, "-E", "-P", "-I", inc] + flags + ["-"], input=src, capture_output=True,
                         text=True, check=True)
    return out.stdout


def statements(text):
    """Top-level statements, split at ';' outside braces and parentheses."""
    depth, start = 0, 0
    for i, ch in enumerate(text):
        if ch in "{(":
            depth += 1
        elif ch in "})":
            depth -= 1
        elif ch == ";" and depth == 0:
            yield " ".join(text[start:i].split())
            start = i + 1


def strip_braces(s):
    out, depth = [], 0
    for ch in s:
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        elif depth == 0:
            out.append(ch)
    return "".join(out)


def learn_typedefs(stmts, kinds):
    """Records what each typedef name is: ptr, enum, struct, or another type's name."""
    for st in stmts:
        if not st.startswith("typedef "):
            continue
        body = st[len("typedef "):]
        fp = re.search(r"\(\s*[\w\s]*?\*\s*(\w+)\s*\)\s*\(", body)
        if fp:  # a function pointer
            kinds[fp.group(1)] = "ptr"
            continue
        decls = [d.strip() for d in strip_braces(body).split(",")]
        first = re.match(r"(.*?)([*\s]*)(\w+)\s*(\[[^\]]*\])?$", decls[0])
        if not first:
            continue
        base = first.group(1).strip()
        for i, d in enumerate(decls):
            m = first if i == 0 else re.match(r"()([*\s]*)(\w+)\s*(\[[^\]]*\])?$", d)
            if not m:
                continue
            name = m.group(3)
            if "*" in m.group(2) or m.group(4):
                kinds[name] = "ptr"
            elif base.startswith("enum"):
                kinds[name] = "enum"
            elif base.startswith(("struct", "union")):
                kinds[name] = "struct"
            else:
                kinds[name] = base.replace("const ", "").strip()


def classify(ctype, kinds, seen=None):
    ctype = ctype.replace("const ", "").replace("volatile ", "").strip()
    if "*" in ctype or "[" in ctype:
        return "ptr"
    if ctype in INTEGER_SIGNED:
        return "int"
    if ctype in INTEGER_UNSIGNED:
        return "uint"
    if ctype in FLOATING:
        return "float"
    if ctype.startswith("enum "):
        return "enum"
    if ctype.startswith(("struct ", "union ")):
        return "struct"
    k = kinds.get(ctype)
    if k in ("ptr", "enum", "struct"):
        return k
    if k is None:
        raise SystemExit(f"gen_entrypoints: cannot classify type '{ctype}'")
    seen = seen or set()
    if ctype in seen:
        raise SystemExit(f"gen_entrypoints: typedef loop at '{ctype}'")
    seen.add(ctype)
    return classify(k, kinds, seen)


def split_params(params):
    if params.strip() in ("", "void"):
        return []
    out, depth, cur = [], 0, ""
    for ch in params:
        if ch == "," and depth == 0:
            out.append(cur.strip())
            cur = ""
            continue
        depth += ch in "(["
        depth -= ch in ")]"
        cur += ch
    out.append(cur.strip())
    return out


def param_name(p):
    m = re.match(r"(.*?)(\w+)\s*(\[[^\]]*\])?$", p)
    if not m or not m.group(1).strip():
        raise SystemExit(f"gen_entrypoints: unnamed parameter '{p}'")
    return m.group(1).strip() + (" *" if m.group(3) else ""), m.group(2)


FORMATS = {
    "ptr": ("%p", "(const void *)({})"),
    "int": ("%lld", "(long long)({})"),
    "uint": ("%llu", "(unsigned long long)({})"),
    "enum": ("%d", "(int)({})"),
    "float": ("%g", "(double)({})"),
}


def stub_symbols(stub):
    if not stub or not os.path.exists(stub):
        return set()
    out = subprocess.run(["nm", "-D", "--defined-only", stub], capture_output=True, text=True, check=True)
    return {line.split()[-1] for line in out.stdout.splitlines() if line.split()[-1].startswith("cu")}


def interop_names(inc):
    """Every name the interop headers declare, with what their #defines make of it."""
    names = set()
    for header in ("cudaGL.h", "cudaVDPAU.h", "cudaEGL.h"):
        path = os.path.join(inc, header)
        if not os.path.exists(path):
            continue
        text = open(path).read()
        names |= set(re.findall(r"CUresult\s+CUDAAPI\s+(cu\w+)\s*\(", text))
        for name, target in re.findall(r"#define\s+(cu\w+)\s+(.+)", text):
            m = re.match(r"__CUDA_API_PT(DS|SZ)\((cu\w+)\)", target.strip())
            if m:
                names |= {m.group(2), m.group(2) + "_pt" + m.group(1).lower()}
            elif re.fullmatch(r"cu\w+", target.strip()):
                names.add(target.strip())
    return names


TRAMPOLINE = {
    "x86_64": "\tjmp *shim_table+{off}(%rip)\n",
    "aarch64": "\tadrp x16, shim_table+{off}\n\tldr x16, [x16, :lo12:shim_table+{off}]\n\tbr x16\n",
}


def trampolines(names, index):
    out = ["/* Entry points without a prototype here: a jump through shim_table. */"]
    for arch, body in TRAMPOLINE.items():
        out.append(f"#if defined(__{arch}__)")
        for n in names:
            code = body.format(off=8 * index[n])
            out.append(f'__asm__(".text\\n.globl {n}\\n.type {n},@function\\n.p2align 4\\n{n}:\\n'
                       + code.replace("\n", "\\n").replace("\t", "\\t") + f'.size {n},.-{n}\\n");')
        out.append("#endif")
    out.append("#if !defined(__x86_64__) && !defined(__aarch64__)")
    out.append('#error "openmps shim trampolines exist for x86_64 and aarch64 only"')
    out.append("#endif")
    out += [f"extern char {n}[];" for n in names]
    return out


def main():
    cc, inc, out_c, out_h = sys.argv[1:5]
    stub = sys.argv[5] if len(sys.argv) > 5 else None
    decls, kinds = {}, {}
    for flags in MODES:
        stmts = list(statements(preprocess(cc, inc, flags)))
        learn_typedefs(stmts, kinds)
        for st in stmts:
            m = re.match(r"(?:extern )?CUresult (cu\w+)\s*\((.*)\)$", st)
            if m and m.group(1) not in decls:
                decls[m.group(1)] = m.group(2)
    jumps = sorted((stub_symbols(stub) | interop_names(inc)) - set(decls))
    names = sorted(set(decls) | set(jumps))
    index = {n: i for i, n in enumerate(names)}
    hdr = ["/* Generated by gen_entrypoints.py from cuda.h; do not edit. */",
           "#ifndef OPENMPS_ENTRYPOINTS_H", "#define OPENMPS_ENTRYPOINTS_H", "",
           "enum shim_entry {"]
    hdr += [f"\tSHIM_EP_{n}," for n in names]
    hdr += ["\tSHIM_EP_COUNT", "};", "",
            "extern const char *const shim_entry_names[SHIM_EP_COUNT];",
            "/* 1 where the entry point is a trampoline: forwarded, never traced. */",
            "extern const unsigned char shim_entry_untraced[SHIM_EP_COUNT];",
            "extern void *const shim_entry_self[SHIM_EP_COUNT];", "", "#endif", ""]
    src = ["/* Generated by gen_entrypoints.py from cuda.h; do not edit. */",
           '#include "shim.h"', "#include <cudaProfiler.h>", ""]
    src += trampolines(jumps, index) + [""]
    for n in names:
        if n not in decls:
            continue
        params = [param_name(p) for p in split_params(decls[n])]
        proto = ", ".join(f"{t} {a}" if not t.endswith("*") else f"{t}{a}" for t, a in params) or "void"
        args = ", ".join(a for _, a in params)
        if n in BY_HAND:
            continue
        fmt, vals = [], []
        for t, a in params:
            kind = classify(t, kinds)
            if kind == "struct":
                fmt.append(f"{a}={{...}}")
                continue
            f, v = FORMATS[kind]
            fmt.append(f"{a}={f}")
            vals.append(v.format(a))
        # The per-thread default stream's names: remote mode must know that a
        # NULL stream means the calling thread's stream (shim_ptds).
        ptds = n.endswith("_ptsz") or n.endswith("_ptds")
        call = [f"\tshim_ptds = 1;", f"\tr_ = real_({args});", "\tshim_ptds = 0;"] if ptds else \
               [f"\tr_ = real_({args});"]
        fast = call + ["\treturn r_;"] if ptds else [f"\t\treturn real_({args});"]
        src += [f"SHIM_EXPORT CUresult CUDAAPI {n}({proto})", "{",
                f"\tCUresult (*real_)({proto}) = (CUresult(*)({proto}))shim_table[SHIM_EP_{n}];",
                "\tuint64_t t0_;", "\tCUresult r_;", "",
                "\tif (!real_)", f"\t\treturn shim_no_entry(SHIM_EP_{n});"]
        if ptds:
            src += ["\tif (!shim_trace_on) {"] + ["\t" + line for line in fast] + ["\t}"]
        else:
            src += ["\tif (!shim_trace_on)"] + fast
        src += ["\tt0_ = shim_trace_now();"] + call + [
                f'\tshim_trace(SHIM_EP_{n}, t0_, r_, "%s{", ".join(fmt)}", ""' + "".join(f", {v}" for v in vals) + ");",
                "\treturn r_;", "}", ""]
    src += ["const char *const shim_entry_names[SHIM_EP_COUNT] = {"]
    src += [f'\t"{n}",' for n in names]
    src += ["};", "", "const unsigned char shim_entry_untraced[SHIM_EP_COUNT] = {"]
    src += [f"\t{int(n in jumps)}, /* {n} */" for n in names]
    src += ["};", "", "void *const shim_entry_self[SHIM_EP_COUNT] = {"]
    src += [f"\t(void *){n}," for n in names]
    src += ["};", ""]
    with open(out_h, "w") as f:
        f.write("\n".join(hdr))
    with open(out_c, "w") as f:
        f.write("\n".join(src))


if __name__ == "__main__":
    main()
