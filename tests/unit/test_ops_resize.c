/* test_ops_resize.c — unit tests of Resize (shape_resize.c, interp_resize.c): every mode,
 * nearest_mode and coordinate_transformation_mode, N-D linear (bilinear, trilinear), cubic with
 * cubic_coeff_a and exclude_outside, tf_crop_and_resize with roi and extrapolation_value, integer
 * dtypes, and attribute errors. Expected numbers come by hand or from the ONNX node tests
 * test_resize_* (libonnx-testdata 1.12, read with onnx.numpy_helper).
 */
#include "test.h"

#include <math.h>
#include <string.h>

#define D(...) ((const int64_t[]){__VA_ARGS__})
#define V(...) ((const double[]){__VA_ARGS__})

/* A Resize node on an input of dtype t and shape (rank, dims), output sizes `sizes`, scales
 * `scales`; attributes are set by the caller on node 0. */
static Graph *resize_graph(DType t, int rank, const int64_t *dims, const int64_t *sizes,
                           const double *scales)
{
    Graph *g = ir_graph_new("t");
    int x = ir_value_add(g, "x", t, rank, dims), y = ir_value_add(g, "y", DT_UNDEF, 0, NULL);
    ir_graph_add_input(g, x);
    ir_node_add(g, OP_RESIZE, "rs", 1, &x, 1, &y);
    ir_graph_add_output(g, y);
    ir_node_set_ints(g, 0, "sizes", sizes, rank);
    ir_node_set_floats(g, 0, "scales", scales, rank);
    return g;
}

/* Run g on x (values v) and compare the output (shape = sizes) to want within tol. */
static void resize_check(Graph *g, DType t, const double *v, const double *want, double tol)
{
    const Value *xv = &g->values[g->inputs[0]], *yv;
    Tensor *x = tensor_new(t, xv->rank, xv->dims), *y = NULL;
    for (int64_t i = 0; i < tensor_numel(x); i++) tensor_set_f64(x, i, v ? v[i] : (double)(i + 1));
    Diag d = {{0}};
    ck_assert_msg(ir_infer_shapes(g, &d) == 0, "%s", d.msg);
    ck_assert_msg(interp_run(g, &x, &y, NULL, &d) == 0, "%s", d.msg);
    yv = &g->values[g->outputs[0]];
    ck_assert_int_eq(y->dtype, t);
    ck_assert_int_eq(y->rank, yv->rank);
    for (int64_t i = 0; i < tensor_numel(y); i++) {
        double a = tensor_get_f64(y, i);
        ck_assert_msg(fabs(a - want[i]) <= tol, "element %lld = %.9g, want %.9g", (long long)i, a,
                      want[i]);
    }
    tensor_free(x);
    tensor_free(y);
    ir_graph_free(g);
}

static void expect_infer_error(Graph *g, const char *want)
{
    Diag d = {{0}};
    ck_assert_int_eq(ir_infer_shapes(g, &d), -1);
    ck_assert_msg(strstr(d.msg, want) != NULL, "error '%s' lacks '%s'", d.msg, want);
    ir_graph_free(g);
}

/* 4x4 input 1..16 as in the ONNX tests. */
#define IN4x4 D(1, 1, 4, 4)

START_TEST(test_resize_linear)
{
    /* test_resize_upsample_scales_linear: half_pixel bilinear 2x2 -> 4x4 */
    Graph *g = resize_graph(DT_F32, 4, D(1, 1, 2, 2), D(1, 1, 4, 4), V(1, 1, 2, 2));
    ir_node_set_str(g, 0, "mode", "linear");
    resize_check(g, DT_F32, NULL,
                 V(1, 1.25, 1.75, 2, 1.5, 1.75, 2.25, 2.5, 2.5, 2.75, 3.25, 3.5, 3, 3.25, 3.75, 4),
                 1e-6);

    /* test_resize_downsample_scales_linear_align_corners (output_width = 0.6 * 4 = 2.4) */
    g = resize_graph(DT_F32, 4, D(1, 1, 2, 4), D(1, 1, 1, 2),
                     V(1, 1, 0.6000000238418579, 0.6000000238418579));
    ir_node_set_str(g, 0, "mode", "linear");
    ir_node_set_str(g, 0, "coordinate_transformation_mode", "align_corners");
    resize_check(g, DT_F32, NULL, V(1, 3.142857074737549), 1e-5);

    /* test_resize_downsample_sizes_linear_pytorch_half_pixel: 4x4 -> 3x1 */
    g = resize_graph(DT_F32, 4, IN4x4, D(1, 1, 3, 1), V(1, 1, 0.75, 0.25));
    ir_node_set_str(g, 0, "mode", "linear");
    ir_node_set_str(g, 0, "coordinate_transformation_mode", "pytorch_half_pixel");
    resize_check(g, DT_F32, NULL, V(1.6666666269302368, 7.0, 12.333333015441895), 1e-5);

    /* half_pixel_symmetric (opset 19): [1 2 3 4] * 0.6 -> 2 elements */
    g = resize_graph(DT_F32, 4, D(1, 1, 1, 4), D(1, 1, 1, 2), V(1, 1, 1, 0.6));
    ir_node_set_str(g, 0, "mode", "linear");
    ir_node_set_str(g, 0, "coordinate_transformation_mode", "half_pixel_symmetric");
    resize_check(g, DT_F32, NULL, V(5.0 / 3, 10.0 / 3), 1e-6);

    /* asymmetric 1-D: x_ori = x / 2 */
    g = resize_graph(DT_F64, 1, D(3), D(6), V(2));
    ir_node_set_str(g, 0, "mode", "linear");
    ir_node_set_str(g, 0, "coordinate_transformation_mode", "asymmetric");
    resize_check(g, DT_F64, V(0, 10, 30), V(0, 5, 10, 20, 30, 30), 1e-12);

    /* trilinear with align_corners reproduces the linear function 4a + 2b + c exactly:
     * 2x2x2 -> 3x3x3 gives 2i + j + k/2 */
    double want[27];
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            for (int k = 0; k < 3; k++) want[(i * 3 + j) * 3 + k] = 2.0 * i + j + k / 2.0;
    g = resize_graph(DT_F32, 5, D(1, 1, 2, 2, 2), D(1, 1, 3, 3, 3), V(1, 1, 1.5, 1.5, 1.5));
    ir_node_set_str(g, 0, "mode", "linear");
    ir_node_set_str(g, 0, "coordinate_transformation_mode", "align_corners");
    resize_check(g, DT_F32, V(0, 1, 2, 3, 4, 5, 6, 7), want, 1e-6);
}
END_TEST

START_TEST(test_resize_cubic)
{
    /* test_resize_downsample_scales_cubic */
    Graph *g = resize_graph(DT_F32, 4, IN4x4, D(1, 1, 3, 3),
                            V(1, 1, 0.800000011920929, 0.800000011920929));
    ir_node_set_str(g, 0, "mode", "cubic");
    resize_check(g, DT_F32, NULL,
                 V(1.47119140625, 2.78125, 4.08251953125, 6.71142578125, 8.021484375, 9.32275390625,
                   11.91650390625, 13.2265625, 14.52783203125),
                 1e-4);

    /* test_resize_downsample_scales_cubic_A_n0p5_exclude_outside */
    g = resize_graph(DT_F32, 4, IN4x4, D(1, 1, 3, 3),
                     V(1, 1, 0.800000011920929, 0.800000011920929));
    ir_node_set_str(g, 0, "mode", "cubic");
    ir_node_set_float(g, 0, "cubic_coeff_a", -0.5);
    ir_node_set_int(g, 0, "exclude_outside", 1);
    resize_check(g, DT_F32, NULL,
                 V(1.3681267499923706, 2.669501304626465, 4.013336658477783, 6.573625087738037,
                   7.875, 9.21883487701416, 11.948966026306152, 13.250341415405273,
                   14.594176292419434),
                 1e-4);

    /* u8 cubic overshoots below 0 and above 255: results saturate (reference values
     * 0, -8.96, -26.89, 57.77, 197.23, 281.89, 263.96, 255) */
    g = resize_graph(DT_U8, 1, D(4), D(8), V(2));
    ir_node_set_str(g, 0, "mode", "cubic");
    resize_check(g, DT_U8, V(0, 0, 255, 255), V(0, 0, 0, 57, 197, 255, 255, 255), 0);
}
END_TEST

START_TEST(test_resize_nearest)
{
    /* test_resize_upsample_sizes_nearest_round_prefer_ceil_asymmetric */
    Graph *g = resize_graph(DT_F32, 4, IN4x4, D(1, 1, 8, 8), V(1, 1, 2, 2));
    ir_node_set_str(g, 0, "coordinate_transformation_mode", "asymmetric");
    ir_node_set_str(g, 0, "nearest_mode", "round_prefer_ceil");
    static const double want[64] = {1,  2,  2,  3,  3,  4,  4,  4,  5,  6,  6,  7,  7,  8,  8,  8,
                                    5,  6,  6,  7,  7,  8,  8,  8,  9,  10, 10, 11, 11, 12, 12, 12,
                                    9,  10, 10, 11, 11, 12, 12, 12, 13, 14, 14, 15, 15, 16, 16, 16,
                                    13, 14, 14, 15, 15, 16, 16, 16, 13, 14, 14, 15, 15, 16, 16, 16};
    resize_check(g, DT_F32, NULL, want, 0);

    /* every nearest_mode on x_ori = x / 1.5 = 0, .67, 1.33, 2, 2.67, 3.33 and on ties
     * x / 2 = 0, .5, 1, 1.5, ... */
    struct {
        const char *mode;
        double w15[6], w2[8];
    } cases[] = {{"floor", {10, 10, 20, 30, 30, 40}, {10, 10, 20, 20, 30, 30, 40, 40}},
                 {"ceil", {10, 20, 30, 30, 40, 40}, {10, 20, 20, 30, 30, 40, 40, 40}},
                 {"round_prefer_floor", {10, 20, 20, 30, 40, 40}, {10, 10, 20, 20, 30, 30, 40, 40}},
                 {"round_prefer_ceil", {10, 20, 20, 30, 40, 40}, {10, 20, 20, 30, 30, 40, 40, 40}}};
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        g = resize_graph(DT_I32, 1, D(4), D(6), V(1.5));
        ir_node_set_str(g, 0, "coordinate_transformation_mode", "asymmetric");
        ir_node_set_str(g, 0, "nearest_mode", cases[c].mode);
        resize_check(g, DT_I32, V(10, 20, 30, 40), cases[c].w15, 0);
        g = resize_graph(DT_I32, 1, D(4), D(8), V(2));
        ir_node_set_str(g, 0, "coordinate_transformation_mode", "asymmetric");
        ir_node_set_str(g, 0, "nearest_mode", cases[c].mode);
        resize_check(g, DT_I32, V(10, 20, 30, 40), cases[c].w2, 0);
    }

    /* half_pixel nearest downsample (test_resize_downsample_scales_nearest): [[1 3]] */
    g = resize_graph(DT_F32, 4, D(1, 1, 2, 4), D(1, 1, 1, 2),
                     V(1, 1, 0.6000000238418579, 0.6000000238418579));
    resize_check(g, DT_F32, NULL, V(1, 3), 0);

    /* tf_half_pixel_for_nn (opset 11): x_ori = (x + 0.5) / scale */
    g = resize_graph(DT_F32, 4, IN4x4, D(1, 1, 3, 2), V(1, 1, 0.75, 0.5));
    ir_node_set_str(g, 0, "coordinate_transformation_mode", "tf_half_pixel_for_nn");
    resize_check(g, DT_F32, NULL, V(6, 8, 10, 12, 14, 16), 0);

    /* nearest moves bytes: 64-bit integers beyond double precision stay exact */
    const Value *xv;
    g = resize_graph(DT_I64, 2, D(1, 2), D(2, 4), V(2, 2));
    Tensor *x = tensor_new(DT_I64, 2, D(1, 2)), *y = NULL;
    int64_t a = (INT64_C(1) << 62) + 1, b = -(INT64_C(1) << 61) - 3;
    ((int64_t *)x->data)[0] = a;
    ((int64_t *)x->data)[1] = b;
    Diag d = {{0}};
    ck_assert_msg(ir_infer_shapes(g, &d) == 0 && interp_run(g, &x, &y, NULL, &d) == 0, "%s", d.msg);
    xv = &g->values[g->outputs[0]];
    ck_assert_int_eq(xv->dims[1], 4);
    const int64_t exp64[8] = {a, a, b, b, a, a, b, b};
    for (int i = 0; i < 8; i++) ck_assert(((int64_t *)y->data)[i] == exp64[i]);
    tensor_free(x);
    tensor_free(y);
    ir_graph_free(g);

    /* identity linear resize of i64 is an exact copy too */
    g = resize_graph(DT_I64, 1, D(2), D(2), V(1));
    ir_node_set_str(g, 0, "mode", "linear");
    x = tensor_new(DT_I64, 1, D(2));
    ((int64_t *)x->data)[0] = a;
    ((int64_t *)x->data)[1] = b;
    ck_assert_msg(ir_infer_shapes(g, &d) == 0 && interp_run(g, &x, &y, NULL, &d) == 0, "%s", d.msg);
    ck_assert(((int64_t *)y->data)[0] == a && ((int64_t *)y->data)[1] == b);
    tensor_free(x);
    tensor_free(y);
    ir_graph_free(g);

    /* bool nearest */
    g = resize_graph(DT_BOOL, 1, D(2), D(4), V(2));
    resize_check(g, DT_BOOL, V(1, 0), V(1, 1, 0, 0), 0);
}
END_TEST

START_TEST(test_resize_crop)
{
    /* test_resize_tf_crop_and_resize: bilinear, roi, extrapolation_value 10 */
    Graph *g = resize_graph(DT_F32, 4, IN4x4, D(1, 1, 3, 3), V(1, 1, 0.75, 0.75));
    ir_node_set_str(g, 0, "mode", "linear");
    ir_node_set_str(g, 0, "coordinate_transformation_mode", "tf_crop_and_resize");
    ir_node_set_float(g, 0, "extrapolation_value", 10.0);
    ir_node_set_floats(g, 0, "roi",
                       V(0, 0, 0.4000000059604645, 0.6000000238418579, 1, 1, 1.2000000476837158,
                         1.7000000476837158),
                       8);
    resize_check(g, DT_F32, NULL,
                 V(7.600000381469727, 10, 10, 12.40000057220459, 10, 10, 10, 10, 10), 1e-5);

    /* nearest crop of [1 2 3 4] with roi [0.5, 1.5]: x_ori = 1.5x + 1.5 = 1.5, 3, 4.5 */
    g = resize_graph(DT_I32, 1, D(4), D(3), V(0.75));
    ir_node_set_str(g, 0, "coordinate_transformation_mode", "tf_crop_and_resize");
    ir_node_set_float(g, 0, "extrapolation_value", -1.0);
    ir_node_set_floats(g, 0, "roi", V(0.5, 1.5), 2);
    resize_check(g, DT_I32, V(1, 2, 3, 4), V(2, 4, -1), 0);
}
END_TEST

START_TEST(test_resize_errors)
{
    const int64_t *dims = D(1, 1, 2, 2), *sizes = D(1, 1, 4, 4);
    const double *scales = V(1, 1, 2, 2);
    Graph *g = resize_graph(DT_F32, 4, dims, sizes, scales);
    ir_node_set_str(g, 0, "mode", "bicubic");
    expect_infer_error(g, "unknown mode 'bicubic'");
    g = resize_graph(DT_F32, 4, dims, sizes, scales);
    ir_node_set_str(g, 0, "coordinate_transformation_mode", "corners");
    expect_infer_error(g, "unknown coordinate_transformation_mode");
    g = resize_graph(DT_F32, 4, dims, sizes, scales);
    ir_node_set_str(g, 0, "nearest_mode", "round");
    expect_infer_error(g, "unknown nearest_mode");
    g = resize_graph(DT_F32, 4, dims, sizes, V(1, 1, 0, 2));
    expect_infer_error(g, "scale 2 must be positive");
    g = resize_graph(DT_F32, 4, dims, sizes, V(1, 1, NAN, 2));
    expect_infer_error(g, "scale 2 must be positive");
    g = resize_graph(DT_F32, 4, dims, D(1, 1, -4, 4), scales);
    expect_infer_error(g, "size 2 is negative");
    g = resize_graph(DT_F32, 4, dims, sizes, scales);
    ir_node_set_floats(g, 0, "scales", V(2, 2), 2);
    expect_infer_error(g, "need 4 entries");
    g = resize_graph(DT_F32, 4, dims, sizes, scales);
    ir_node_set_floats(g, 0, "roi", V(0, 1), 2);
    expect_infer_error(g, "roi needs 8 entries");
    g = resize_graph(DT_F32, 4, dims, sizes, scales);
    ir_node_set_int(g, 0, "antialias", 1);
    expect_infer_error(g, "antialias");
    g = resize_graph(DT_BOOL, 4, dims, sizes, scales);
    ir_node_set_str(g, 0, "mode", "linear");
    expect_infer_error(g, "needs a numeric input");
    g = resize_graph(DT_F32, 4, D(1, 1, 0, 2), sizes, scales);
    expect_infer_error(g, "axis 2 is empty");
    g = resize_graph(DT_F32, 4, dims, D(1, 1, INT64_C(1) << 40, INT64_C(1) << 40), scales);
    expect_infer_error(g, "too many elements");
    g = resize_graph(DT_F32, 4, dims, sizes, scales);
    ir_node_remove_attr(g, 0, "sizes");
    expect_infer_error(g, "missing attribute");
}
END_TEST

TEST_SUITE(ops_resize)
{
    Suite *s = suite_create("ops_resize");
    TCase *tc = tcase_create("resize");
    tcase_add_test(tc, test_resize_linear);
    tcase_add_test(tc, test_resize_cubic);
    tcase_add_test(tc, test_resize_nearest);
    tcase_add_test(tc, test_resize_crop);
    tcase_add_test(tc, test_resize_errors);
    suite_add_tcase(s, tc);
    return s;
}
