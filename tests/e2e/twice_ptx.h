/* "twice(unsigned *p, unsigned n)": doubles the first n words of p, one
 * thread a word. Real PTX for the GPU; its first line makes fakecuda run its
 * CPU version of the same kernel. */
#ifndef OPENMPS_TWICE_PTX_H
#define OPENMPS_TWICE_PTX_H

/* The kernel's start, up to its word's value in r2 at rd4: the thread's
 * index, its bounds check, its address. */
#define TWICE_PTX_HEAD                                                                      \
	".visible .entry twice(.param .u64 p, .param .u32 n)\n{\n"                          \
	" .reg .b32 r<6>; .reg .b64 rd<5>; .reg .pred q;\n"                                  \
	" ld.param.u64 rd1, [p]; ld.param.u32 r1, [n];\n"                                   \
	" mov.u32 r2, %ctaid.x; mov.u32 r3, %ntid.x; mov.u32 r4, %tid.x;\n"                  \
	" mad.lo.s32 r5, r2, r3, r4; setp.ge.u32 q, r5, r1; @q bra done;\n"                  \
	" cvta.to.global.u64 rd2, rd1; mul.wide.u32 rd3, r5, 4; add.s64 rd4, rd2, rd3;\n" \
	" ld.global.u32 r2, [rd4];\n"

static const char twice_ptx[] = "// fakecuda: twice\n"
				".version 8.0\n.target sm_90\n.address_size 64\n" TWICE_PTX_HEAD
				" shl.b32 r2, r2, 1; st.global.u32 [rd4], r2;\n"
				"done:\n ret;\n}\n";

/* The same with a module global, "counter" (16 bytes). */
static const char twice_counter_ptx[] = "// fakecuda: twice\n"
					".version 8.0\n.target sm_90\n.address_size 64\n"
					".visible .global .align 4 .b8 counter[16];\n"
					".visible .entry twice(.param .u64 p, .param .u32 n)\n{\n ret;\n}\n";

/* The same with a __constant__ variable, "table" (16 bytes), which no
 * kernel can write. */
static const char twice_const_ptx[] = "// fakecuda: twice\n"
				      ".version 8.0\n.target sm_90\n.address_size 64\n"
				      ".const .align 4 .b8 table[16];\n"
				      ".visible .entry twice(.param .u64 p, .param .u32 n)\n{\n ret;\n}\n";

/* The same split in two for the JIT linker: twice(p, n) doubles p[i] by calling
 * dbl(), which it declares .extern; the callee defines dbl. */
static const char caller_ptx[] = "// fakecuda: twice\n"
				 ".version 8.0\n.target sm_90\n.address_size 64\n"
				 ".extern .func (.param .b32 rv) dbl(.param .b32 x);\n" TWICE_PTX_HEAD
				 " { .param .b32 a; .param .b32 b; st.param.b32 [a], r2;\n"
				 "   call.uni (b), dbl, (a); ld.param.b32 r2, [b]; }\n"
				 " st.global.u32 [rd4], r2;\n"
				 "done:\n ret;\n}\n";

static const char callee_ptx[] = "// fakecuda: dbl\n"
				 ".version 8.0\n.target sm_90\n.address_size 64\n"
				 ".visible .func (.param .b32 rv) dbl(.param .b32 x)\n{\n"
				 " .reg .b32 t;\n"
				 " ld.param.b32 t, [x]; shl.b32 t, t, 1; st.param.b32 [rv], t; ret;\n}\n";

#endif
