/* fixture_nosym.c — a valid shared object that is not a ppcc model: it exports no ppc_model_v1,
 * so loading it must fail with PPCRT_ERR_NOT_A_MODEL.
 */
__attribute__((visibility("default"))) int fixture_not_a_model(int x) { return x + 1; }
