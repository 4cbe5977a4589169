/* test_ops_pool.c — unit tests for MaxPool (Indices, storage_order), AveragePool
 * (count_include_pad), LpPool (p) and the global pools: shape inference (ir/shape_pool.c with
 * ir_conv_geometry) and kernels (ir/interp_pool.c). Hand-computed cases, including ceil_mode's
 * rule that the last window must start inside the input or the left padding, then randomised
 * 1-D/2-D/3-D cases (strides, dilations, asymmetric pads, every auto_pad, ceil_mode) against a
 * naive loop over every kernel tap written here, and the node errors.
 */
#include "test.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ single-node runner */

typedef struct PAttr {
    const char *name;
    char kind; /* 'i' int, 's' string, 'I' ints */
    int64_t i;
    const char *s;
    int n;
    int64_t ints[16];
} PAttr;

static int pool_run(OpKind op, Tensor *x, int nout, Tensor **outs, const PAttr *at, int nat, Diag *d)
{
    Graph *g = ir_graph_new("t");
    int xv = ir_value_add(g, "x", x->dtype, x->rank, x->dims), ov[2];
    ir_graph_add_input(g, xv);
    for (int k = 0; k < nout; k++) {
        ov[k] = ir_value_add(g, NULL, DT_UNDEF, 0, NULL);
        ir_graph_add_output(g, ov[k]);
        outs[k] = NULL;
    }
    int nd = ir_node_add(g, op, "p0", 1, &xv, nout, ov);
    for (int k = 0; k < nat; k++) {
        if (at[k].kind == 'i') ir_node_set_int(g, nd, at[k].name, at[k].i);
        if (at[k].kind == 's') ir_node_set_str(g, nd, at[k].name, at[k].s);
        if (at[k].kind == 'I') ir_node_set_ints(g, nd, at[k].name, at[k].ints, at[k].n);
    }
    int rc = ir_infer_shapes(g, d);
    if (!rc) rc = interp_run(g, &x, outs, NULL, d);
    ir_graph_free(g);
    return rc;
}

static PAttr pints(const char *name, int n, const int64_t *v)
{
    PAttr a = {.name = name, .kind = 'I', .n = n};
    for (int i = 0; i < n; i++) a.ints[i] = v[i];
    return a;
}

static Tensor *ptensor(DType t, int rank, const int64_t *dims, const double *v)
{
    Tensor *x = tensor_new(t, rank, dims);
    for (int64_t i = 0; v && i < tensor_numel(x); i++) tensor_set_f64(x, i, v[i]);
    return x;
}

/* Check y's shape and (v not NULL) its values. */
static void expect_values(const Tensor *y, int rank, const int64_t *dims, const double *v, double tol,
                          const char *what)
{
    ck_assert_msg(y != NULL, "%s: no output", what);
    ck_assert_int_eq(y->rank, rank);
    for (int i = 0; i < rank; i++)
        ck_assert_msg(y->dims[i] == dims[i], "%s: dim %d is %lld, expected %lld", what, i,
                      (long long)y->dims[i], (long long)dims[i]);
    for (int64_t i = 0; v && i < tensor_numel(y); i++)
        ck_assert_msg(fabs(tensor_get_f64(y, i) - v[i]) <= tol * (1 + fabs(v[i])),
                      "%s: element %lld is %.9g, expected %.9g", what, (long long)i, tensor_get_f64(y, i),
                      v[i]);
}

static int prand(unsigned long long *rs, int lo, int hi)
{
    int v = lo + (int)test_randf(rs, 0, (float)(hi - lo + 1));
    return v > hi ? hi : v;
}

/* ------------------------------------------------------------------ hand cases */

START_TEST(maxpool_hand_indices)
{
    int64_t xd[4] = {1, 1, 4, 4};
    double xv[16];
    for (int i = 0; i < 16; i++) xv[i] = i;
    Tensor *x = ptensor(DT_F32, 4, xd, xv), *y[2];
    PAttr at[3] = {pints("kernel_shape", 2, (int64_t[]){2, 2}),
                   pints("strides", 2, (int64_t[]){2, 2}),
                   {.name = "storage_order", .kind = 'i', .i = 0}};
    Diag d;
    ck_assert_int_eq(pool_run(OP_MAX_POOL, x, 2, y, at, 3, &d), 0);
    int64_t yd[4] = {1, 1, 2, 2};
    expect_values(y[0], 4, yd, (double[]){5, 7, 13, 15}, 0, "max");
    ck_assert_int_eq(y[1]->dtype, DT_I64);
    expect_values(y[1], 4, yd, (double[]){5, 7, 13, 15}, 0, "indices row-major");
    tensor_free(y[0]), tensor_free(y[1]);
    at[2].i = 1; /* column-major: (h, w) -> w*4 + h */
    ck_assert_int_eq(pool_run(OP_MAX_POOL, x, 2, y, at, 3, &d), 0);
    expect_values(y[1], 4, yd, (double[]){5, 13, 7, 15}, 0, "indices column-major");
    tensor_free(y[0]), tensor_free(y[1]), tensor_free(x);

    /* indices include the (n, c) plane offset */
    int64_t xd2[4] = {2, 1, 1, 3};
    Tensor *x2 = ptensor(DT_F64, 4, xd2, (double[]){1, 9, 2, 7, 3, 8});
    PAttr at2[1] = {pints("kernel_shape", 2, (int64_t[]){1, 3})};
    ck_assert_int_eq(pool_run(OP_MAX_POOL, x2, 2, y, at2, 1, &d), 0);
    int64_t yd2[4] = {2, 1, 1, 1};
    expect_values(y[0], 4, yd2, (double[]){9, 8}, 0, "max per image");
    expect_values(y[1], 4, yd2, (double[]){1, 5}, 0, "flat indices");
    tensor_free(y[0]), tensor_free(y[1]), tensor_free(x2);
}
END_TEST

START_TEST(avgpool_hand_count_include_pad)
{
    int64_t xd[4] = {1, 1, 3, 3};
    Tensor *x = ptensor(DT_F32, 4, xd, (double[]){0, 1, 2, 3, 4, 5, 6, 7, 8}), *y;
    PAttr at[3] = {pints("kernel_shape", 2, (int64_t[]){3, 3}),
                   pints("pads", 4, (int64_t[]){1, 1, 1, 1}),
                   {.name = "count_include_pad", .kind = 'i', .i = 0}};
    Diag d;
    int64_t yd[4] = {1, 1, 3, 3};
    ck_assert_int_eq(pool_run(OP_AVERAGE_POOL, x, 1, &y, at, 3, &d), 0);
    expect_values(y, 4, yd, (double[]){2, 2.5, 3, 3.5, 4, 4.5, 5, 5.5, 6}, 1e-7, "exclude pad");
    tensor_free(y);
    at[2].i = 1;
    ck_assert_int_eq(pool_run(OP_AVERAGE_POOL, x, 1, &y, at, 3, &d), 0);
    expect_values(y, 4, yd,
                  (double[]){8 / 9., 15 / 9., 12 / 9., 21 / 9., 4, 27 / 9., 20 / 9., 33 / 9., 24 / 9.}, 1e-7,
                  "include pad");
    tensor_free(y), tensor_free(x);
}
END_TEST

START_TEST(pool_hand_ceil_mode)
{
    /* in 3, kernel 2, stride 2, pads 1+1, ceil: ceil((3+2-2)/2)+1 = 3 windows, but the third
     * would start at padded position 4 = the right padding, so there are 2 */
    int64_t xd[3] = {1, 1, 3}, yd[3] = {1, 1, 2};
    Tensor *x = ptensor(DT_F32, 3, xd, (double[]){1, 2, 3}), *y;
    PAttr at[5] = {pints("kernel_shape", 1, (int64_t[]){2}),
                   pints("strides", 1, (int64_t[]){2}),
                   pints("pads", 2, (int64_t[]){1, 1}),
                   {.name = "ceil_mode", .kind = 'i', .i = 1},
                   {.name = "count_include_pad", .kind = 'i', .i = 1}};
    Diag d;
    ck_assert_int_eq(pool_run(OP_MAX_POOL, x, 1, &y, at, 4, &d), 0);
    expect_values(y, 3, yd, (double[]){1, 3}, 0, "max ceil");
    tensor_free(y);
    ck_assert_int_eq(pool_run(OP_AVERAGE_POOL, x, 1, &y, at, 5, &d), 0);
    expect_values(y, 3, yd, (double[]){0.5, 2.5}, 1e-7, "avg ceil include pad");
    tensor_free(y), tensor_free(x);

    /* in 4, kernel 3, stride 2, no pads, ceil: the second window overhangs the end by one and is
     * averaged over the 2 taps inside, also with count_include_pad */
    int64_t xd2[3] = {1, 1, 4};
    Tensor *x2 = ptensor(DT_F32, 3, xd2, (double[]){1, 2, 3, 5});
    PAttr at2[4] = {pints("kernel_shape", 1, (int64_t[]){3}),
                    pints("strides", 1, (int64_t[]){2}),
                    {.name = "ceil_mode", .kind = 'i', .i = 1},
                    {.name = "count_include_pad", .kind = 'i', .i = 1}};
    ck_assert_int_eq(pool_run(OP_AVERAGE_POOL, x2, 1, &y, at2, 4, &d), 0);
    expect_values(y, 3, yd, (double[]){2, 4}, 1e-7, "avg ceil overhang");
    tensor_free(y);
    at2[2].i = 0; /* floor: one window */
    ck_assert_int_eq(pool_run(OP_AVERAGE_POOL, x2, 1, &y, at2, 4, &d), 0);
    expect_values(y, 3, (int64_t[]){1, 1, 1}, (double[]){2}, 1e-7, "avg floor");
    tensor_free(y), tensor_free(x2);
}
END_TEST

START_TEST(lppool_and_global_hand)
{
    int64_t xd[4] = {1, 2, 1, 2};
    Tensor *x = ptensor(DT_F32, 4, xd, (double[]){3, -4, 1, 2}), *y;
    PAttr at[2] = {pints("kernel_shape", 2, (int64_t[]){1, 2}), {.name = "p", .kind = 'i', .i = 2}};
    Diag d;
    int64_t yd[4] = {1, 2, 1, 1};
    ck_assert_int_eq(pool_run(OP_LP_POOL, x, 1, &y, at, 2, &d), 0);
    expect_values(y, 4, yd, (double[]){5, sqrt(5)}, 1e-7, "lp p=2");
    tensor_free(y);
    at[1].i = 1;
    ck_assert_int_eq(pool_run(OP_LP_POOL, x, 1, &y, at, 2, &d), 0);
    expect_values(y, 4, yd, (double[]){7, 3}, 1e-7, "lp p=1");
    tensor_free(y);
    ck_assert_int_eq(pool_run(OP_GLOBAL_AVERAGE_POOL, x, 1, &y, NULL, 0, &d), 0);
    expect_values(y, 4, yd, (double[]){-0.5, 1.5}, 1e-7, "global avg");
    tensor_free(y);
    ck_assert_int_eq(pool_run(OP_GLOBAL_MAX_POOL, x, 1, &y, NULL, 0, &d), 0);
    expect_values(y, 4, yd, (double[]){3, 2}, 0, "global max");
    tensor_free(y);
    PAttr p3 = {.name = "p", .kind = 'i', .i = 3};
    ck_assert_int_eq(pool_run(OP_GLOBAL_LP_POOL, x, 1, &y, &p3, 1, &d), 0);
    expect_values(y, 4, yd, (double[]){cbrt(91), cbrt(9)}, 1e-6, "global lp p=3");
    tensor_free(y), tensor_free(x);

    /* 3-D global pool on f64 */
    int64_t xd3[5] = {1, 1, 2, 2, 2};
    Tensor *x3 = ptensor(DT_F64, 5, xd3, (double[]){1, 2, 3, 4, 5, 6, 7, 8});
    ck_assert_int_eq(pool_run(OP_GLOBAL_AVERAGE_POOL, x3, 1, &y, NULL, 0, &d), 0);
    expect_values(y, 5, (int64_t[]){1, 1, 1, 1, 1}, (double[]){4.5}, 0, "global avg 3-D");
    tensor_free(y), tensor_free(x3);
}
END_TEST

START_TEST(maxpool_uint8)
{
    int64_t xd[4] = {1, 1, 2, 3};
    Tensor *x = ptensor(DT_U8, 4, xd, (double[]){200, 3, 255, 0, 250, 7}), *y;
    PAttr at[2] = {pints("kernel_shape", 2, (int64_t[]){2, 2}), pints("pads", 4, (int64_t[]){0, 0, 0, 1})};
    Diag d;
    ck_assert_int_eq(pool_run(OP_MAX_POOL, x, 1, &y, at, 2, &d), 0);
    ck_assert_int_eq(y->dtype, DT_U8);
    expect_values(y, 4, (int64_t[]){1, 1, 1, 3}, (double[]){250, 255, 255}, 0, "u8 max");
    tensor_free(y), tensor_free(x);
}
END_TEST

/* ------------------------------------------------------------------ randomised vs naive */

typedef struct PG {
    int ns;
    int64_t in[6], k[6], s[6], dl[6], pb[6], pe[6], out[6];
} PG;

/* Output dims and pads per the ONNX pooling definition. mode: 0 NOTSET, 1 VALID, 2 SAME_UPPER,
 * 3 SAME_LOWER. Returns 0 if some window would have no tap inside the input. */
static int ref_pool_geom(PG *r, int mode, int ceil_mode)
{
    for (int a = 0; a < r->ns; a++) {
        int64_t dk = (r->k[a] - 1) * r->dl[a] + 1, in = r->in[a], s = r->s[a];
        if (mode >= 2) {
            r->out[a] = (in + s - 1) / s;
            int64_t total = (r->out[a] - 1) * s + dk - in;
            if (total < 0) total = 0;
            r->pb[a] = mode == 2 ? total / 2 : total - total / 2;
            r->pe[a] = total - r->pb[a];
        } else {
            if (mode == 1) r->pb[a] = r->pe[a] = 0;
            int64_t span = in + r->pb[a] + r->pe[a] - dk;
            r->out[a] = (ceil_mode ? (span + s - 1) / s : span / s) + 1;
            if (ceil_mode && (r->out[a] - 1) * s >= in + r->pb[a]) r->out[a]--;
        }
        for (int64_t o = 0; o < r->out[a]; o++) {
            int any = 0;
            for (int64_t t = 0; t < r->k[a]; t++) {
                int64_t i = o * s + t * r->dl[a] - r->pb[a];
                any |= i >= 0 && i < in;
            }
            if (!any) return 0;
        }
    }
    return 1;
}

/* kind 0 max, 1 avg, 2 lp. Visits every tap of every window. */
static void ref_pool(int kind, const Tensor *x, const PG *r, int include_pad, double p, int col_major,
                     Tensor *y, Tensor *ind)
{
    int64_t planes = x->dims[0] * x->dims[1], inpl = 1, outpl = 1, kpl = 1;
    for (int a = 0; a < r->ns; a++) inpl *= r->in[a], outpl *= r->out[a], kpl *= r->k[a];
    for (int64_t pl = 0; pl < planes; pl++)
        for (int64_t o = 0; o < outpl; o++) {
            int64_t oc[6], rem = o;
            for (int a = r->ns - 1; a >= 0; a--) oc[a] = rem % r->out[a], rem /= r->out[a];
            double acc = kind == 0 ? -INFINITY : 0;
            int64_t best = -1, nvalid = 0, nincl = 0;
            for (int64_t t = 0; t < kpl; t++) {
                int64_t tc[6], ic[6], trem = t;
                for (int a = r->ns - 1; a >= 0; a--) tc[a] = trem % r->k[a], trem /= r->k[a];
                int inside = 1, inpad = 1;
                for (int a = 0; a < r->ns; a++) {
                    ic[a] = oc[a] * r->s[a] + tc[a] * r->dl[a] - r->pb[a];
                    inside &= ic[a] >= 0 && ic[a] < r->in[a];
                    inpad &= ic[a] >= -r->pb[a] && ic[a] < r->in[a] + r->pe[a];
                }
                nincl += inpad;
                if (!inside) continue;
                nvalid++;
                int64_t off = 0, coff = 0, cs = 1;
                for (int a = 0; a < r->ns; a++) off = off * r->in[a] + ic[a];
                for (int a = 0; a < r->ns; a++) coff += ic[a] * cs, cs *= r->in[a];
                double v = tensor_get_f64(x, pl * inpl + off);
                if (kind == 0 && (best < 0 || v > acc)) acc = v, best = pl * inpl + (col_major ? coff : off);
                if (kind == 1) acc += v;
                if (kind == 2) acc += pow(fabs(v), p);
            }
            if (kind == 1) acc /= (double)(include_pad ? nincl : nvalid);
            if (kind == 2) acc = pow(acc, 1 / p);
            tensor_set_f64(y, pl * outpl + o, acc);
            if (ind) tensor_set_i64(ind, pl * outpl + o, best);
        }
}

static const char *const pool_auto_pads[4] = {"NOTSET", "VALID", "SAME_UPPER", "SAME_LOWER"};

START_TEST(pool_random_vs_naive)
{
    unsigned long long rs = 2024;
    for (int it = 0; it < 300; it++) {
        int ns = 1 + it % 3, kind = (it / 3) % 3, mode = (it / 9) % 4, ceil_mode = (it / 36) % 2;
        int include_pad = prand(&rs, 0, 1), col_major = prand(&rs, 0, 1),
            with_ind = kind == 0 && prand(&rs, 0, 1);
        double p = prand(&rs, 1, 3);
        DType dt = it % 4 == 3 ? DT_F64 : DT_F32;
        PG r = {.ns = ns};
        do {
            for (int a = 0; a < ns; a++) {
                r.in[a] = prand(&rs, 1, ns == 3 ? 6 : 10);
                r.k[a] = prand(&rs, 1, 3);
                r.s[a] = prand(&rs, 1, 3);
                r.dl[a] = prand(&rs, 1, 2);
                r.pb[a] = prand(&rs, 0, 2);
                r.pe[a] = prand(&rs, 0, 2);
                int64_t dk = (r.k[a] - 1) * r.dl[a] + 1;
                if (mode == 0 && r.in[a] + r.pb[a] + r.pe[a] < dk) r.in[a] = dk;
                if (mode == 1 && r.in[a] < dk) r.in[a] = dk;
            }
        } while (!ref_pool_geom(&r, mode, ceil_mode));
        int64_t xd[8] = {prand(&rs, 1, 2), prand(&rs, 1, 3)}, yd[8] = {xd[0], xd[1]};
        for (int a = 0; a < ns; a++) xd[2 + a] = r.in[a], yd[2 + a] = r.out[a];
        Tensor *x = tensor_new(dt, ns + 2, xd);
        for (int64_t i = 0; i < tensor_numel(x); i++) tensor_set_f64(x, i, test_randf(&rs, -2, 2));
        PAttr at[9];
        int nat = 0;
        at[nat++] = pints("kernel_shape", ns, r.k);
        at[nat++] = pints("strides", ns, r.s);
        at[nat++] = pints("dilations", ns, r.dl);
        at[nat++] = (PAttr){.name = "ceil_mode", .kind = 'i', .i = ceil_mode};
        if (mode == 0) {
            int64_t pads[12];
            for (int a = 0; a < ns; a++) pads[a] = r.pb[a], pads[ns + a] = r.pe[a];
            at[nat++] = pints("pads", 2 * ns, pads);
        } else {
            at[nat++] = (PAttr){.name = "auto_pad", .kind = 's', .s = pool_auto_pads[mode]};
        }
        if (kind == 0) at[nat++] = (PAttr){.name = "storage_order", .kind = 'i', .i = col_major};
        if (kind == 1) at[nat++] = (PAttr){.name = "count_include_pad", .kind = 'i', .i = include_pad};
        if (kind == 2) at[nat++] = (PAttr){.name = "p", .kind = 'i', .i = (int64_t)p};
        OpKind op = kind == 0 ? OP_MAX_POOL : kind == 1 ? OP_AVERAGE_POOL : OP_LP_POOL;
        Tensor *y[2];
        Diag d;
        int rc = pool_run(op, x, with_ind ? 2 : 1, y, at, nat, &d);
        ck_assert_msg(rc == 0, "case %d: %s", it, d.msg);
        Tensor *want = tensor_new(dt, ns + 2, yd), *wind = with_ind ? tensor_new(DT_I64, ns + 2, yd) : NULL;
        ref_pool(kind, x, &r, include_pad, p, col_major, want, wind);
        char what[96];
        snprintf(what, sizeof what, "case %d: %s %dD %s ceil %d", it, ir_op_name(op), ns,
                 pool_auto_pads[mode], ceil_mode);
        expect_values(y[0], ns + 2, yd, NULL, 0, what); /* shape only; values below */
        for (int64_t i = 0; i < tensor_numel(want); i++) {
            double a = tensor_get_f64(y[0], i), b = tensor_get_f64(want, i);
            ck_assert_msg(fabs(a - b) <= 1e-6 * (1 + fabs(b)), "%s: element %lld is %.9g, expected %.9g",
                          what, (long long)i, a, b);
            if (wind)
                ck_assert_msg(tensor_get_i64(y[1], i) == tensor_get_i64(wind, i),
                              "%s: index %lld is %lld, expected %lld", what, (long long)i,
                              (long long)tensor_get_i64(y[1], i), (long long)tensor_get_i64(wind, i));
        }
        tensor_free(y[0]), tensor_free(with_ind ? y[1] : NULL), tensor_free(want), tensor_free(wind),
            tensor_free(x);
    }
}
END_TEST

/* ------------------------------------------------------------------ errors */

static void pool_expect_error(OpKind op, Tensor *x, int nout, const PAttr *at, int nat, const char *needle)
{
    Tensor *y[2];
    Diag d = {{0}};
    ck_assert_msg(pool_run(op, x, nout, y, at, nat, &d) == -1, "expected an error containing '%s'", needle);
    ck_assert_msg(strstr(d.msg, needle) != NULL, "message '%s' lacks '%s'", d.msg, needle);
    ck_assert_msg(strstr(d.msg, "p0") != NULL, "message '%s' does not name the node", d.msg);
}

START_TEST(pool_errors)
{
    int64_t xd[4] = {1, 2, 4, 4};
    Tensor *x = tensor_new(DT_F32, 4, xd), *xi = tensor_new(DT_I32, 4, xd), *x2 = tensor_new(DT_F32, 2, xd);
    Tensor *xu = tensor_new(DT_U8, 4, xd);
    PAttr k3 = pints("kernel_shape", 2, (int64_t[]){3, 3});
    pool_expect_error(OP_MAX_POOL, x, 1, NULL, 0, "kernel_shape is required");
    PAttr big[2] = {pints("kernel_shape", 2, (int64_t[]){3, 3}), pints("dilations", 2, (int64_t[]){1, 3})};
    pool_expect_error(OP_MAX_POOL, x, 1, big, 2, "larger than the padded input");
    PAttr so[2] = {k3, {.name = "storage_order", .kind = 'i', .i = 2}};
    pool_expect_error(OP_MAX_POOL, x, 1, so, 2, "storage_order");
    pool_expect_error(OP_AVERAGE_POOL, x, 2, &k3, 1, "outputs"); /* no Indices */
    pool_expect_error(OP_AVERAGE_POOL, xi, 1, &k3, 1, "dtype");
    pool_expect_error(OP_AVERAGE_POOL, xu, 1, &k3, 1, "dtype");
    pool_expect_error(OP_MAX_POOL, x2, 1, &k3, 1, "rank");
    PAttr kn[1] = {pints("kernel_shape", 3, (int64_t[]){3, 3, 3})};
    pool_expect_error(OP_MAX_POOL, x, 1, kn, 1, "kernel_shape");
    PAttr pads[2] = {k3, pints("pads", 4, (int64_t[]){1, -1, 0, 0})};
    pool_expect_error(OP_MAX_POOL, x, 1, pads, 2, "pads");
    PAttr both[3] = {
        k3, pints("pads", 4, (int64_t[]){1, 1, 1, 1}), {.name = "auto_pad", .kind = 's', .s = "VALID"}};
    pool_expect_error(OP_AVERAGE_POOL, x, 1, both, 3, "auto_pad");
    PAttr cm[2] = {k3, {.name = "ceil_mode", .kind = 'i', .i = 3}};
    pool_expect_error(OP_MAX_POOL, x, 1, cm, 2, "ceil_mode");
    PAttr pz = {.name = "p", .kind = 'i', .i = 0};
    pool_expect_error(OP_GLOBAL_LP_POOL, x, 1, &pz, 1, "p must be positive");
    pool_expect_error(OP_GLOBAL_AVERAGE_POOL, xi, 1, NULL, 0, "dtype");
    tensor_free(x), tensor_free(xi), tensor_free(x2), tensor_free(xu);
}
END_TEST

TEST_SUITE(ops_pool)
{
    Suite *s = suite_create("ops_pool");
    TCase *tc = tcase_create("pool");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, maxpool_hand_indices);
    tcase_add_test(tc, avgpool_hand_count_include_pad);
    tcase_add_test(tc, pool_hand_ceil_mode);
    tcase_add_test(tc, lppool_and_global_hand);
    tcase_add_test(tc, maxpool_uint8);
    tcase_add_test(tc, pool_random_vs_naive);
    tcase_add_test(tc, pool_errors);
    suite_add_tcase(s, tc);
    return s;
}
