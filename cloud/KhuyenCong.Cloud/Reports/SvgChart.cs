using System.Globalization;
using System.Net;
using System.Text;

namespace KhuyenCong.Cloud.Reports;

/// <summary>One line of a chart: a name for the legend, a colour, and a value (or a gap) per category.</summary>
public sealed record ChartSeries(string Name, string Color, IReadOnlyList<double?> Values);

/// <summary>
/// Line charts as inline SVG, drawn on the server so the report page needs no script and no external file, and prints
/// as it shows. Categories (months, firings) are spaced evenly on the x axis; the y axis spans the data and zero.
/// </summary>
public static class SvgChart
{
    private const double W = 720, H = 260, Left = 70, Right = 16, Top = 28, Bottom = 48;

    public static string Line(string id, string title, string unit, IReadOnlyList<string> categories, IReadOnlyList<ChartSeries> series)
    {
        var inv = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        var values = series.SelectMany(s => s.Values).Where(v => v is not null).Select(v => v!.Value).ToList();
        var empty = categories.Count == 0 || values.Count == 0;
        sb.Append(inv, $"<svg id=\"{id}\" class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {W} {(empty ? 50 : H)}\" role=\"img\" aria-label=\"{E(title)}\">");
        sb.Append(inv, $"<title>{E(title)}</title>");
        sb.Append(inv, $"<text x=\"{Left}\" y=\"16\" class=\"t\">{E(title)} ({E(unit)})</text>");
        if (empty)
        {
            sb.Append(inv, $"<text x=\"{Left}\" y=\"40\" class=\"n\">no data for this period</text></svg>");
            return sb.ToString();
        }
        var min = Math.Min(0, values.Min());
        var max = Math.Max(0, values.Max());
        if (max - min < 1e-9) max = min + 1;
        var (lo, hi, step) = NiceScale(min, max);
        double X(int i) => categories.Count == 1 ? Left + (W - Left - Right) / 2 : Left + i * (W - Left - Right) / (categories.Count - 1);
        double Y(double v) => Top + (hi - v) / (hi - lo) * (H - Top - Bottom);

        for (var t = lo; t <= hi + step / 2; t += step)
        {
            var y = Y(t);
            sb.Append(inv, $"<line x1=\"{Left}\" x2=\"{W - Right}\" y1=\"{y:0.#}\" y2=\"{y:0.#}\" class=\"{(Math.Abs(t) < step / 1e6 ? "z" : "g")}\"/>");
            sb.Append(inv, $"<text x=\"{Left - 6}\" y=\"{y + 4:0.#}\" text-anchor=\"end\" class=\"a\">{Tick(t, step)}</text>");
        }
        var every = Math.Max(1, (int)Math.Ceiling(categories.Count / 12.0));
        for (var i = 0; i < categories.Count; i += every)
            sb.Append(inv, $"<text x=\"{X(i):0.#}\" y=\"{H - Bottom + 16}\" text-anchor=\"middle\" class=\"a\">{E(categories[i])}</text>");

        var legendX = Left;
        foreach (var s in series)
        {
            var points = new List<string>();
            var path = new StringBuilder();
            for (var i = 0; i < s.Values.Count && i < categories.Count; i++)
            {
                if (s.Values[i] is not { } v)
                {
                    if (points.Count > 0) path.Append(Polyline(points, s.Color));
                    points.Clear();
                    continue;
                }
                points.Add(string.Create(inv, $"{X(i):0.#},{Y(v):0.#}"));
                sb.Append(inv, $"<circle cx=\"{X(i):0.#}\" cy=\"{Y(v):0.#}\" r=\"3\" fill=\"{s.Color}\"><title>{E(categories[i])}: {v.ToString("#,0.##", inv)} {E(unit)}</title></circle>");
            }
            if (points.Count > 0) path.Append(Polyline(points, s.Color));
            sb.Append(path);
            sb.Append(inv, $"<rect x=\"{legendX}\" y=\"{H - 18}\" width=\"12\" height=\"4\" fill=\"{s.Color}\"/><text x=\"{legendX + 16}\" y=\"{H - 13}\" class=\"a\">{E(s.Name)}</text>");
            legendX += 30 + 7 * s.Name.Length;
        }
        sb.Append("</svg>");
        return sb.ToString();
    }

    private static string Polyline(List<string> points, string color) =>
        $"<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"2\" points=\"{string.Join(' ', points)}\"/>";

    /// <summary>Axis bounds and a tick step of 1, 2 or 5 × 10ⁿ giving about five intervals.</summary>
    internal static (double Lo, double Hi, double Step) NiceScale(double min, double max)
    {
        var raw = (max - min) / 5;
        var mag = Math.Pow(10, Math.Floor(Math.Log10(raw)));
        var r = raw / mag;
        var step = mag * (r <= 1 ? 1 : r <= 2 ? 2 : r <= 5 ? 5 : 10);
        return (Math.Floor(min / step) * step, Math.Ceiling(max / step) * step, step);
    }

    private static string Tick(double v, double step) =>
        v.ToString(step >= 1 ? "#,0" : step >= 0.1 ? "#,0.0" : "#,0.00", CultureInfo.InvariantCulture);

    private static string E(string s) => WebUtility.HtmlEncode(s);
}
