using KhuyenCong.Contracts;
using KhuyenCong.Edge.Profiles;
using KhuyenCong.TestSupport;

namespace KhuyenCong.Profiles.Tests;

/// <summary>docs/points.md describes the vocabulary of CanonicalPoints.cs and which shipped profiles use each point.</summary>
public sealed class PointsDocumentationTests
{
    private static List<string[]> Table(int index)
    {
        var lines = File.ReadAllLines(Path.Combine(RepoPaths.Root, "docs", "points.md"));
        var tables = new List<List<string[]>>();
        List<string[]>? current = null;
        foreach (var line in lines)
        {
            if (!line.StartsWith('|'))
            {
                current = null;
                continue;
            }
            if (current is null) tables.Add(current = []);
            current.Add([.. line.Trim('|').Split('|').Select(c => c.Trim().Trim('`'))]);
        }
        return [.. tables[index].Skip(2)]; // header and separator
    }

    [Fact]
    public void The_points_table_lists_every_canonical_point_with_its_unit_class_and_kind()
    {
        var rows = Table(0);
        Assert.Equal(CanonicalPoints.All.Select(p => p.Name), rows.Select(r => r[0]));
        foreach (var p in CanonicalPoints.All)
        {
            var row = rows.Single(r => r[0] == p.Name);
            Assert.Equal(p.Unit.Length == 0 ? "—" : p.Unit, row[1]);
            Assert.Equal(p.Class, row[2]);
            Assert.Equal(p.Kind.ToString().ToLowerInvariant(), row[3]);
        }
    }

    [Fact]
    public void The_table_of_which_profiles_map_each_point_matches_the_shipped_profiles()
    {
        var profiles = ProfileLoader.All(RepoPaths.Devices).Select(ProfileLoader.Load).ToList();
        foreach (var row in Table(2))
        {
            var documented = row[1] == "—" ? [] : row[1].Split(',').Select(s => s.Trim().Trim('`')).ToList();
            var actual = profiles.Where(p => (p.Profile.Lines?.Points.Select(x => x.Name) ?? p.Profile.Points.Select(x => x.Name)).Contains(row[0]))
                .Select(p => p.Profile.Id).Order(StringComparer.Ordinal).ToList();
            Assert.True(documented.SequenceEqual(actual), $"{row[0]}: docs say [{string.Join(", ", documented)}], profiles are [{string.Join(", ", actual)}]");
        }
    }
}
