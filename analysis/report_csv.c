/* CSV files for spreadsheets and pandas (RFC 4180: comma-separated, quoted when needed,
 * one header row). Numbers are written with 17 significant digits so they read back to the
 * same doubles; NaN (no finite trial, n < 2) is an empty field, as pandas expects. The
 * rate interval's columns are named after its method (wilson_lo, clopper_pearson_lo,
 * normal_lo), so a file read later still says which interval it holds. */
#include "report.h"
#include "report_sweep.h"

#include "core/status.h"

#include <math.h>
#include <string.h>

static void str(FILE *f, const char *s, bool last)
{
    s = s ? s : "";
    if (strpbrk(s, ",\"\r\n") || (*s && (s[0] == ' ' || s[strlen(s) - 1] == ' '))) {
        fputc('"', f);
        for (; *s; s++) {
            if (*s == '"')
                fputc('"', f);
            fputc(*s, f);
        }
        fputc('"', f);
    } else {
        fputs(s, f);
    }
    fputs(last ? "\r\n" : ",", f);
}

static void num(FILE *f, double v)
{
    if (isnan(v))
        fputc(',', f);
    else
        fprintf(f, "%.17g,", v);
}

static void i64(FILE *f, long long v)
{
    fprintf(f, "%lld,", v);
}

static void layer_id(FILE *f, const struct au_report *r, int32_t layer)
{
    const struct au_report_model_layer *m = au_report_find_layer(r, layer);
    if (layer < 0)
        fputc(',', f);
    else
        i64(f, layer);
    str(f, layer < 0 ? "model-wide" : m ? m->name : "", false);
}

/* The column prefix of the rate interval. */
static const char *ci(const struct au_report *r)
{
    static const char *const names[AU_STATS_METHOD_COUNT] = {"wilson", "clopper_pearson", "normal"};
    return r->method >= 0 && r->method < AU_STATS_METHOD_COUNT ? names[r->method] : "rate";
}

static void layers(FILE *f, const struct au_report *r)
{
    fprintf(f,
            "campaign,layer,name,op,tensor_kind,bit_kind,format,n_trials,n_finite,n_nonfinite,"
            "mean_dloss,sd_dloss,mean_abs_dloss,level,z_lo,z_hi,t_lo,t_hi,mismatch_rate,"
            "%s_lo,%s_hi,n_masked,masked_fraction,n_benign,n_sdc,n_detected,"
            "detected_total,rank\r\n",
            ci(r), ci(r));
    for (size_t i = 0; i < r->n_layers; i++) {
        const struct au_report_layer *l = &r->layers[i];
        const struct au_report_model_layer *m = au_report_find_layer(r, l->layer);
        str(f, r->name, false);
        layer_id(f, r, l->layer);
        str(f, m ? m->op : "", false);
        str(f, l->tensor, false);
        str(f, l->bits, false);
        str(f, au_report_layer_format(r, l), false);
        i64(f, l->n_trials);
        i64(f, l->dloss.n);
        i64(f, l->n_nonfinite);
        const double v[] = {l->dloss.mean, l->dloss.sd,   l->dloss.mean_abs, r->level,
                            l->dloss.z_lo, l->dloss.z_hi, l->dloss.t_lo,     l->dloss.t_hi,
                            l->mismatch,   l->mis_lo,     l->mis_hi};
        for (size_t k = 0; k < sizeof(v) / sizeof(v[0]); k++)
            num(f, v[k]);
        i64(f, l->n_masked);
        num(f, (double)l->n_masked / l->n_trials);
        i64(f, l->n_benign);
        i64(f, l->n_sdc);
        i64(f, l->n_detected);
        i64(f, l->detected_total);
        fprintf(f, "%d\r\n", l->rank);
    }
}

static void bits(FILE *f, const struct au_report *r)
{
    fprintf(f,
            "campaign,layer,name,tensor_kind,is_meta,bit,field,n_trials,n_nonfinite,n_sdc,"
            "mismatch_sum,mismatch_rate,%s_lo,%s_hi,level,mean_dloss,mismatch_share\r\n",
            ci(r), ci(r));
    for (size_t i = 0; i < r->n_bits; i++) {
        const struct au_report_bit *b = &r->bits[i];
        str(f, r->name, false);
        layer_id(f, r, b->layer);
        str(f, b->tensor, false);
        i64(f, b->is_meta);
        i64(f, b->bit);
        str(f, b->field, false);
        i64(f, b->n_trials);
        i64(f, b->n_nonfinite);
        i64(f, b->n_sdc);
        num(f, b->mismatch_sum);
        num(f, b->mismatch_sum / b->n_trials);
        num(f, b->mis_lo);
        num(f, b->mis_hi);
        num(f, r->level);
        num(f, b->mean_dloss);
        fprintf(f, "%.17g\r\n", b->share);
    }
}

/* One row per campaign of the model over all its layers (layer and name empty), then one
 * per layer. */
static void campaigns(FILE *f, const struct au_report *r)
{
    fprintf(f,
            "campaign,formats,layer,name,n_trials,n_nonfinite,mean_dloss,sd_dloss,t_lo,t_hi,"
            "z_lo,z_hi,mismatch_rate,%s_lo,%s_hi,level\r\n",
            ci(r), ci(r));
    for (size_t i = 0; i < r->n_cmp; i++) {
        const struct au_report_cmp *c = &r->cmp[i];
        str(f, c->name, false);
        str(f, c->formats, false);
        if (c->total)
            fputs(",all layers,", f);
        else
            layer_id(f, r, c->layer);
        i64(f, c->n_trials);
        i64(f, c->n_nonfinite);
        const double v[] = {c->dloss.mean, c->dloss.sd, c->dloss.t_lo, c->dloss.t_hi, c->dloss.z_lo,
                            c->dloss.z_hi, c->mismatch, c->mis_lo,     c->mis_hi};
        for (size_t k = 0; k < sizeof(v) / sizeof(v[0]); k++)
            num(f, v[k]);
        fprintf(f, "%.17g\r\n", r->level);
    }
}

int au_report_write_csv(const struct au_report *r, int table, FILE *f)
{
    if (!r || !f || !au_report_csv_name(table))
        return AU_INVALID;
    if (table == AU_REPORT_CSV_LAYERS)
        layers(f, r);
    else if (table == AU_REPORT_CSV_BITS)
        bits(f, r);
    else
        campaigns(f, r);
    return ferror(f) ? AU_IO : AU_OK;
}

/* sweep.csv: one row per format, float32 first (roles "none"). */
int au_report_sweep_write_csv(const struct au_report_sweep *s, FILE *f)
{
    if (!s || !f || !s->rows || !s->n_rows)
        return AU_INVALID;
    fputs("format,roles,accuracy,loss,drop_pp,same_top1,n_samples,n_nonfinite\r\n", f);
    for (size_t i = 0; i < s->n_rows; i++) {
        const struct au_report_sweep_row *x = &s->rows[i];
        str(f, x->format, false);
        str(f, i ? s->roles : "none", false);
        const double v[] = {x->accuracy, x->loss, x->drop, x->same_top1};
        for (size_t k = 0; k < sizeof(v) / sizeof(v[0]); k++)
            num(f, v[k]);
        i64(f, x->n_samples);
        fprintf(f, "%lld\r\n", (long long)x->n_nonfinite);
    }
    return ferror(f) ? AU_IO : AU_OK;
}
