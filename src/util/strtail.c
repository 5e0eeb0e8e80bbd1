/*
 * strtail.c - the out-of-line part of an inlined call site's string work (include/skylog.h):
 * measuring a SKY_STR string that goes on past its first 16-byte block, and copying a string
 * of over 32 bytes into the ring. A call site measures and copies short strings itself; the
 * rest comes here, to routines chosen once at load for the CPU: AVX2 (32 bytes a load) where
 * the CPU and the kernel have it, SSE2 (every x86-64) otherwise.
 *
 * They are not C functions. A C call would make the call site keep its values across it in
 * callee-saved registers (saved and restored on every call, the short-string ones too) or spill
 * them around it; these clobber only the registers the header names (sky__strlen_long,
 * sky__copy_long), so the site keeps every other value where it was. The site jumps to them
 * with the address to come back to in r11 (`lea 1f(%rip), %r11; jmp *sky__strlen_rdx(%rip);
 * 1:`): no call, so the 128 bytes under the stack pointer (the red zone, which the compiler may
 * be using) are untouched and the stack is never moved. Where the objects are built for
 * indirect-branch tracking (-fcf-protection) each entry and each return point starts with
 * endbr64; the CFI below says where the return address is, so a profiler or debugger can
 * unwind from inside them (but for the copy's loop past 256 bytes, where it waits in xmm).
 *
 *   strlen: rdx = s, whose first 16 bytes are not NUL when they lie in s's page, else its
 *           bytes up to the end of the aligned 16-byte block that holds s[0] (what the call
 *           site tested); returns rdx = strlen(s). Clobbers rcx, r11, xmm13-xmm15 (ymm). It
 *           reads unaligned 32-byte windows only when the 208 bytes from s lie in s's page,
 *           else aligned blocks, which never cross into another page; either may read past the
 *           NUL. sky__strlen_tail is the same for programs built with earlier headers (s and
 *           the result in rax; rcx, rdx, r11 clobbered).
 *   copy:   r8 = d, r9 = s, r10 = n (n >= 32): copies n bytes, writes nothing else.
 *           Keeps r8, r9, r10. Clobbers r11, xmm14-xmm15 (ymm).
 *
 * The AVX2 routines end with vzeroupper (legacy-SSE code after them pays no transition); a site
 * compiled with AVX (which could keep a 256-bit value in any ymm register) names every vector
 * register as clobbered (skylog.h). Under valgrind the CPU is what valgrind emulates (AVX2 yes,
 * AVX-512 no). tests/unit/test_site_strings.c forces each variant (sky__strtail_select).
 */
#include "util/strtail.h"

#if defined(__x86_64__) && defined(__GNUC__)

/* an entry point is an indirect jump's target: endbr64 where this object is marked for
 * indirect-branch tracking (-fcf-protection); without the mark no process tracks it */
#if defined(__CET__) && (__CET__ & 1)
#define ENDBR "endbr64\n\t"
#else
#define ENDBR ""
#endif
#define ASM_FN(name)                                                                               \
    ".p2align 5\n\t.type " name ",@function\n" name ":\n\t.cfi_startproc\n\t"                       \
    ".cfi_def_cfa_offset 0\n\t.cfi_register %rip, %r11\n\t" ENDBR
#define OLD_STRLEN(name, to)                                                                       \
    ASM_FN(name)                                                                                   \
    "mov %rax, %rdx\n\t"                                                                           \
    "mov %r11, %rax\n\t"                                                                           \
    ".cfi_register %rip, %rax\n\t"                                                                \
    "lea 1f(%rip), %r11\n\t"                                                                       \
    "jmp " to "\n"                                                                                 \
    "1:\t" ENDBR "mov %rax, %r11\n\t"                                                              \
    ".cfi_register %rip, %r11\n\t"                                                                \
    "mov %rdx, %rax\n\t"                                                                           \
    "jmp *%r11\n\t" ASM_END(name)
#define ASM_END(name) ".cfi_endproc\n\t.size " name ", .-" name "\n\t"

#define AVX2_WINDOW(off, exit)                                                                     \
    "vpcmpeqb " #off "(%rdx), %ymm13, %ymm14\n\t"                                                  \
    "vptest %ymm14, %ymm14\n\t"                                                                    \
    "jnz " #exit "f\n\t"
#define AVX2_EXIT(label, off)                                                                      \
    #label ":\tvpmovmskb %ymm14, %ecx\n\t"                                                         \
    "bsf %ecx, %ecx\n\t"                                                                           \
    "lea " #off "(%rcx), %rdx\n\t"                                                                 \
    "vzeroupper\n\t"                                                                               \
    "jmp *%r11\n"

__asm__(".text\n\t"
        /* SSE2 strlen: from the aligned 16-byte block after s's own, one block to a 32-byte
         * boundary, then 32-byte aligned pairs tested by their bytewise minimum (pminub); the
         * pair that holds the NUL is tested again block by block. rcx walks the blocks, edx
         * takes the masks (s waits in xmm15). */
        ASM_FN("sky__strlen_rdx_sse2")
        "lea 16(%rdx), %rcx\n\t"
        "and $-16, %rcx\n\t"
        "pxor %xmm13, %xmm13\n\t"
        "movq %rdx, %xmm15\n\t"
        "test $16, %cl\n\t"
        "jz 2f\n\t"
        "movdqa (%rcx), %xmm14\n\t"
        "pcmpeqb %xmm13, %xmm14\n\t"
        "pmovmskb %xmm14, %edx\n\t"
        "test %edx, %edx\n\t"
        "jnz 7f\n\t"
        "add $16, %rcx\n"
        "2:\tmovdqa (%rcx), %xmm14\n\t"
        "pminub 16(%rcx), %xmm14\n\t"
        "pcmpeqb %xmm13, %xmm14\n\t"
        "pmovmskb %xmm14, %edx\n\t"
        "add $32, %rcx\n\t"
        "test %edx, %edx\n\t"
        "jz 2b\n\t"
        "sub $32, %rcx\n\t" /* the pair that holds it: its first block, else its second */
        "movdqa (%rcx), %xmm14\n\t"
        "pcmpeqb %xmm13, %xmm14\n\t"
        "pmovmskb %xmm14, %edx\n\t"
        "test %edx, %edx\n\t"
        "jnz 7f\n\t"
        "add $16, %rcx\n\t"
        "movdqa (%rcx), %xmm14\n\t"
        "pcmpeqb %xmm13, %xmm14\n\t"
        "pmovmskb %xmm14, %edx\n"
        "7:\tbsf %edx, %edx\n\t"
        "add %rcx, %rdx\n\t" /* the NUL's address */
        "movq %xmm15, %rcx\n\t"
        "sub %rcx, %rdx\n\t"
        "jmp *%r11\n\t" ASM_END("sky__strlen_rdx_sse2")

        /* AVX2 strlen. When the 208 bytes from s lie in its page (all but 5 % of strings), six
         * unaligned 32-byte windows from s + 16 (the call site tested the 16 bytes from s
         * whenever they lie in its page), each a compare and a vptest, unrolled: a string of
         * up to 207 bytes takes no loop, no alignment step and no second compare at its exit.
         * Then, and near a page's end from the start, aligned 32-byte blocks (which never
         * cross into another page), rcx their offset from s. */
        ASM_FN("sky__strlen_rdx_avx2")
        "mov %edx, %ecx\n\t"
        "and $4095, %ecx\n\t"
        "vpxor %xmm13, %xmm13, %xmm13\n\t"
        "cmp $4096-208, %ecx\n\t"
        "ja 8f\n\t"
        AVX2_WINDOW(16, 1) AVX2_WINDOW(48, 2) AVX2_WINDOW(80, 3) AVX2_WINDOW(112, 4)
        AVX2_WINDOW(144, 5) AVX2_WINDOW(176, 6)
        "lea 208(%rdx), %rcx\n\t" /* the aligned block that holds s + 208, from s */
        "and $-32, %rcx\n\t"
        "sub %rdx, %rcx\n\t"
        "jmp 9f\n"
        AVX2_EXIT(1, 16) AVX2_EXIT(2, 48) AVX2_EXIT(3, 80) AVX2_EXIT(4, 112) AVX2_EXIT(5, 144)
        AVX2_EXIT(6, 176)
        /* near the page's end: the aligned 16-byte block after s's (whose bytes the site
         * tested), one more if it is not 32-byte aligned, then aligned 32-byte blocks */
        "8:\tlea 16(%rdx), %rcx\n\t"
        "and $-16, %rcx\n\t"
        "test $16, %cl\n\t"
        "jz 7f\n\t"
        "vpcmpeqb (%rcx), %xmm13, %xmm14\n\t"
        "add $16, %rcx\n\t"
        "vptest %xmm14, %xmm14\n\t"
        "jz 7f\n\t"
        "sub %rdx, %rcx\n\t"
        "vpmovmskb %xmm14, %edx\n\t"
        "bsf %edx, %edx\n\t"
        "lea -16(%rcx,%rdx), %rdx\n\t"
        "vzeroupper\n\t"
        "jmp *%r11\n"
        "7:\tsub %rdx, %rcx\n"
        "9:\tvpcmpeqb (%rdx,%rcx), %ymm13, %ymm14\n\t"
        "add $32, %rcx\n\t"
        "vptest %ymm14, %ymm14\n\t"
        "jz 9b\n\t"
        "vpmovmskb %ymm14, %edx\n\t"
        "bsf %edx, %edx\n\t"
        "lea -32(%rcx,%rdx), %rdx\n\t"
        "vzeroupper\n\t"
        "jmp *%r11\n\t" ASM_END("sky__strlen_rdx_avx2")

        /* The entry points of programs built with earlier headers: s in rax, the result in
         * rax, rcx, rdx and r11 clobbered. The return address waits in rax, which the
         * routines keep. */
        OLD_STRLEN("sky__strlen_sse2", "sky__strlen_rdx_sse2")
        OLD_STRLEN("sky__strlen_avx2", "sky__strlen_rdx_avx2")

        /* SSE2 copy: 32 bytes a step from the start while more than 32 are left, then the
         * last 32 (overlapping the loop's last step). r11 counts, the return address waiting in
         * xmm15; r10 is lowered by 32 for the loop's compare and restored. */
        ASM_FN("sky__copy_sse2")
        "movq %r11, %xmm15\n\t"
        ".cfi_undefined %rip\n\t"
        "xor %r11d, %r11d\n\t"
        "sub $32, %r10\n"
        "2:\tmovdqu (%r9,%r11), %xmm14\n\t"
        "movdqu %xmm14, (%r8,%r11)\n\t"
        "movdqu 16(%r9,%r11), %xmm14\n\t"
        "movdqu %xmm14, 16(%r8,%r11)\n\t"
        "add $32, %r11\n\t"
        "cmp %r10, %r11\n\t"
        "jb 2b\n\t"
        "movdqu (%r9,%r10), %xmm14\n\t"
        "movdqu %xmm14, (%r8,%r10)\n\t"
        "movdqu 16(%r9,%r10), %xmm14\n\t"
        "movdqu %xmm14, 16(%r8,%r10)\n\t"
        "add $32, %r10\n\t"
        "movq %xmm15, %r11\n\t"
        ".cfi_register %rip, %r11\n\t"
        "jmp *%r11\n\t" ASM_END("sky__copy_sse2")

        /* AVX2 copy, without a loop up to 256 bytes: the first and the last 32 (overlapping
         * up to 64 bytes), then the next 32 from each end (up to 128), then two more from each
         * end (up to 256); longer, 32 bytes a step between the first and the last 64, r11
         * counting as in the SSE2 copy. */
        ASM_FN("sky__copy_avx2")
        "vmovdqu (%r9), %ymm14\n\t"
        "vmovdqu -32(%r9,%r10), %ymm15\n\t"
        "vmovdqu %ymm14, (%r8)\n\t"
        "vmovdqu %ymm15, -32(%r8,%r10)\n\t"
        "cmp $64, %r10\n\t"
        "ja 1f\n\t"
        "vzeroupper\n\t"
        "jmp *%r11\n"
        "1:\tvmovdqu 32(%r9), %ymm14\n\t"
        "vmovdqu -64(%r9,%r10), %ymm15\n\t"
        "vmovdqu %ymm14, 32(%r8)\n\t"
        "vmovdqu %ymm15, -64(%r8,%r10)\n\t"
        "cmp $128, %r10\n\t"
        "ja 2f\n\t"
        "vzeroupper\n\t"
        "jmp *%r11\n"
        "2:\tcmp $256, %r10\n\t"
        "ja 3f\n\t"
        "vmovdqu 64(%r9), %ymm14\n\t"
        "vmovdqu -96(%r9,%r10), %ymm15\n\t"
        "vmovdqu %ymm14, 64(%r8)\n\t"
        "vmovdqu %ymm15, -96(%r8,%r10)\n\t"
        "vmovdqu 96(%r9), %ymm14\n\t"
        "vmovdqu -128(%r9,%r10), %ymm15\n\t"
        "vmovdqu %ymm14, 96(%r8)\n\t"
        "vmovdqu %ymm15, -128(%r8,%r10)\n\t"
        "vzeroupper\n\t"
        "jmp *%r11\n"
        "3:\tvmovq %r11, %xmm14\n\t"
        ".cfi_undefined %rip\n\t"
        "mov $64, %r11d\n\t"
        "sub $64, %r10\n"
        "4:\tvmovdqu (%r9,%r11), %ymm15\n\t"
        "vmovdqu %ymm15, (%r8,%r11)\n\t"
        "add $32, %r11\n\t"
        "cmp %r10, %r11\n\t"
        "jb 4b\n\t"
        "add $64, %r10\n\t"
        "vmovq %xmm14, %r11\n\t"
        ".cfi_register %rip, %r11\n\t"
        "vzeroupper\n\t"
        "jmp *%r11\n\t" ASM_END("sky__copy_avx2")
        ".previous");

/* the routines' entry points, as data (they are not C functions) */
extern const char sky__strlen_rdx_sse2[], sky__strlen_rdx_avx2[], sky__strlen_sse2[],
    sky__strlen_avx2[], sky__copy_sse2[], sky__copy_avx2[];

const void *sky__strlen_rdx = sky__strlen_rdx_sse2;
const void *sky__strlen_tail = sky__strlen_sse2;
const void *sky__copy_tail = sky__copy_sse2;

static bool avx2_cpu(void)
{
    __builtin_cpu_init();
    /* libgcc's "avx2" also requires the kernel to save the ymm registers (XCR0) */
    return __builtin_cpu_supports("avx2");
}

/* Chosen before main (and before any other constructor's log call could see SSE2 twice: the
 * SSE2 routines are the initial values, so a site that runs earlier is still correct). */
__attribute__((constructor)) static void choose(void) { sky__strtail_select(SKY__STRTAIL_BEST); }

int sky__strtail_select(int variant)
{
    bool avx2 = avx2_cpu();
    if (variant == SKY__STRTAIL_BEST)
        variant = avx2 ? SKY__STRTAIL_AVX2 : SKY__STRTAIL_SSE2;
    if (variant == SKY__STRTAIL_AVX2 && !avx2)
        return -1;
    sky__strlen_rdx = variant == SKY__STRTAIL_AVX2 ? sky__strlen_rdx_avx2 : sky__strlen_rdx_sse2;
    sky__strlen_tail = variant == SKY__STRTAIL_AVX2 ? sky__strlen_avx2 : sky__strlen_sse2;
    sky__copy_tail = variant == SKY__STRTAIL_AVX2 ? sky__copy_avx2 : sky__copy_sse2;
    return variant;
}

#else

int sky__strtail_select(int variant) { return variant == SKY__STRTAIL_BEST ? 0 : -1; }

#endif
